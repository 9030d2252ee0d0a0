/// A message type that travels between services: a `Codable` value with a stable, versioned name.
///
/// The name, not the Swift type, identifies the message on the wire, so renaming or moving the
/// Swift type changes nothing for other services. Change the version suffix only for an
/// incompatible change; adding optional fields is compatible (unknown fields are ignored and
/// missing optional ones decode as `nil`).
public protocol MessageContract: Codable, Sendable {
    /// The wire name, e.g. `"email.send-email.v1"`. Must not change once services use it.
    static var messageType: String { get }
}

/// A request for one service to do something. It knows its destination, so a producer needs no
/// routing configuration: ``MessageBus/send(_:options:)`` delivers it to that service's queue.
public protocol Command: MessageContract {
    /// The name of the service (and of its command queue) that handles this command.
    static var destination: String { get }
}

/// Something that happened, published by one service to whoever subscribes.
public protocol Event: MessageContract {
    /// The publishing service; events go to its topic exchange `<source>.events` with the
    /// message type as routing key.
    static var source: String { get }
}

/// A request with a typed reply, answered by one service (``MessageBus/call(_:timeout:)``).
public protocol RemoteProcedure: MessageContract {
    associatedtype Reply: Codable & Sendable
    /// The name of the service that answers.
    static var destination: String { get }
}
