import AMQPWire

/// What a registered handler does with one decoded message: nothing to send back (commands,
/// events) or the encoded reply (RPC).
enum HandlerResult: Sendable {
    case done
    case reply(OutgoingMessage)
}

/// A handler with its type erased, ready to be called with a wire message.
struct AnyHandler: Sendable {
    var messageType: String
    var isRPC: Bool
    var run: @Sendable (IncomingMessage, MessageContext, any WireFormat) async throws -> HandlerResult
}

/// One consumed queue and the handlers for the message types that arrive on it.
struct QueueRegistration: Sendable {
    enum Kind: Sendable, Equatable {
        case commands
        case subscription(exchange: String, routingKey: String, broadcast: Bool)
        case rpc
    }

    var queue: String
    var kind: Kind
    /// How messages on this queue are encoded.
    var format: any WireFormat
    var handlers: [String: AnyHandler] = [:]
}

/// Marks a handler failure that retrying cannot fix because the message itself is bad.
struct UndecodableMessage: PermanentFailure, CustomStringConvertible {
    var description: String
}
