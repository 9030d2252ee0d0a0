/// A Nameko RPC method as a Swift type: its fields are the method's arguments, and ``Reply`` is
/// what it returns. Both sides use it: ``NamekoRPCClient/call(_:timeout:context:)`` calls it and
/// ``NamekoRPCServer/respond(to:handler:)`` serves it.
///
/// ```swift
/// // def hello(self, name, punctuation="!"): ...
/// struct Hello: NamekoProcedure {
///     typealias Reply = String
///     static let service = "greeting"
///     static let method = "hello"
///     static let positionalParameters = ["name", "punctuation"]
///     var name: String
///     var punctuation: String?
/// }
/// ```
///
/// How arguments map (docs/wire-formats/nameko.md): a request's `kwargs` are the fields by name,
/// and its `args` are the fields named in ``positionalParameters``, in that order.
public protocol NamekoProcedure: Codable, Sendable {
    associatedtype Reply: Codable & Sendable
    /// The Nameko service name (its queue is `rpc-<service>`).
    static var service: String { get }
    /// The method name: the routing key is `<service>.<method>`, so it cannot contain a dot.
    static var method: String { get }
    /// The Python signature's parameter names, in order, that callers may pass positionally.
    /// The client sends these fields as `args` (up to the first absent one), the rest as `kwargs`;
    /// the server accepts each either way. Empty (the default): keyword arguments only.
    static var positionalParameters: [String] { get }
}

extension NamekoProcedure {
    public static var positionalParameters: [String] { [] }
}

/// An event a Nameko service dispatches (`EventDispatcher`) or handles (`@event_handler`): the
/// value is the event data, sent as its JSON.
public protocol NamekoEvent: Codable, Sendable {
    /// The dispatching service: events go to its topic exchange `<source>.events`.
    static var source: String { get }
    /// The event type, the routing key (`"greeted"`).
    static var eventType: String { get }
}

/// The arguments of a method that takes none, or the reply of one that returns nothing useful.
public struct NamekoNoArguments: Codable, Sendable, Hashable {
    public init() {}
}

/// The broker names Nameko uses (2.14.1 and 3.0), documented with the bytes in
/// docs/wire-formats/nameko.md.
public enum NamekoTopology {
    /// The RPC exchange (topic, durable): Nameko's default `rpc_exchange`.
    public static let rpcExchange = "nameko-rpc"
    /// The header with the ids of the calls that led to a message (an array of strings).
    public static let callIDStackHeader = "nameko.call_id_stack"
    /// Prefix of the headers that carry context data (`nameko.language`, `nameko.auth_token`).
    public static let headerPrefix = "nameko."

    /// A service's one RPC queue, shared by all its methods and instances (durable).
    public static func rpcQueue(service: String) -> String { "rpc-\(service)" }
    /// The key the RPC queue is bound with: every method of the service.
    public static func rpcBindingKey(service: String) -> String { "\(service).*" }
    /// A request's routing key.
    public static func rpcRoutingKey(service: String, method: String) -> String { "\(service).\(method)" }
    /// The topic exchange a service dispatches its events to (durable).
    public static func eventExchange(source: String) -> String { "\(source).events" }
    /// The queue of a `SERVICE_POOL` event handler (durable, shared by the handling service's
    /// instances): `evt-<source>-<event type>--<service>.<method>`.
    public static func eventQueue(source: String, eventType: String, service: String, method: String) -> String {
        "evt-\(source)-\(eventType)--\(service).\(method)"
    }
}

/// A Nameko error object, the `error` of a reply: what a Nameko service sends when a call fails,
/// and what a Swift handler throws to choose the exception a Python caller gets.
///
/// A Python caller raises the class named by ``excPath`` when that class is registered for it
/// (`nameko.exceptions.MethodNotFound`, `IncorrectSignature`, `MalformedRequest`, and classes
/// decorated `@deserialize_to_instance`), with ``excArgs`` as its arguments; otherwise
/// `RemoteError(exc_type, value)`. Any other error a Swift handler throws is sent with its Swift
/// type name as ``excType``, the module-qualified name as ``excPath`` and its description as
/// ``value``.
public struct NamekoRemoteError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The exception class name (`ValueError`).
    public var excType: String
    /// Its module path (`builtins.ValueError`).
    public var excPath: String
    /// The exception's arguments. Python sends non-strings as strings (`42` as `"42"`); nested
    /// lists and dicts arrive here as their JSON text.
    public var excArgs: [String]
    /// `str(exception)`.
    public var value: String

    /// An error object; `excArgs` defaults to `[value]`.
    public init(excType: String, excPath: String, excArgs: [String]? = nil, value: String) {
        self.excType = excType
        self.excPath = excPath
        self.excArgs = excArgs ?? [value]
        self.value = value
    }

    /// The reply for a method the service does not have (Python raises `MethodNotFound`).
    public static func methodNotFound(_ method: String) -> NamekoRemoteError {
        NamekoRemoteError(excType: "MethodNotFound", excPath: "nameko.exceptions.MethodNotFound", value: method)
    }

    /// The reply for arguments that do not fit the method (Python raises `IncorrectSignature`).
    public static func incorrectSignature(_ message: String) -> NamekoRemoteError {
        NamekoRemoteError(
            excType: "IncorrectSignature", excPath: "nameko.exceptions.IncorrectSignature", value: message)
    }

    /// The reply for a request that is not a Nameko request (Python raises `MalformedRequest`).
    public static func malformedRequest(_ message: String) -> NamekoRemoteError {
        NamekoRemoteError(excType: "MalformedRequest", excPath: "nameko.exceptions.MalformedRequest", value: message)
    }

    /// How a Swift error that is not a `NamekoRemoteError` goes to a Nameko caller.
    init(from error: any Error) {
        if let error = error as? NamekoRemoteError {
            self = error
            return
        }
        let type = type(of: error)
        self.init(excType: String(describing: type), excPath: String(reflecting: type), value: "\(error)")
    }

    public var description: String { "\(excType): \(value)" }
}
