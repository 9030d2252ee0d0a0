/// An error from the messaging layer, with an extensible code and the details as data.
public struct MessagingError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No queue took the message (`mandatory` publish returned): the destination service
        /// has no queue, or no binding matches.
        public static let unroutable = Code("unroutable")
        /// The broker refused responsibility for the message (publisher confirm nack).
        public static let nacked = Code("nacked")
        /// No reply to an RPC call within its timeout.
        public static let timeout = Code("timeout")
        /// The connection failed after an RPC request was sent: its reply cannot arrive (the
        /// reply-to address died with the connection). The request may still have been handled,
        /// so call again only if the procedure is safe to repeat.
        public static let replyLost = Code("replyLost")
        /// The remote handler failed; ``MessagingError/remoteType`` names its error.
        public static let remote = Code("remote")
        /// A message could not be encoded or decoded.
        public static let serialization = Code("serialization")
        /// The service or bus is not running, or is shutting down.
        public static let notRunning = Code("notRunning")
        /// Configuration that cannot work (a duplicate handler, an invalid name).
        public static let invalidConfiguration = Code("invalidConfiguration")
    }

    public var code: Code
    public var message: String
    /// For ``Code/remote``: the remote error's type name.
    public var remoteType: String?
    /// The AMQP error underneath, if any.
    public var underlying: (any Error)?

    public init(_ code: Code, _ message: String, remoteType: String? = nil, underlying: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.remoteType = remoteType
        self.underlying = underlying
    }

    public var description: String {
        if let remoteType { return "\(code): \(remoteType): \(message)" }
        return "\(code): \(message)"
    }
}

/// An error a handler throws when retrying cannot help (invalid input, a permanent refusal):
/// the message goes to the error queue at once, with this error's text.
public protocol PermanentFailure: Error {}

/// A ready-made ``PermanentFailure`` with a reason.
public struct Rejected: PermanentFailure, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
