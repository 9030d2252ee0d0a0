/// An error from AMQPWire: what failed, in words, and what the broker said when it was the broker.
///
/// ``code`` is an extensible set of codes to switch on. When the broker closed a channel or the
/// connection, ``replyCode``, ``replyText`` and ``method`` carry its reply exactly (for example
/// 404 `NOT_FOUND - no queue 'x' in vhost '/'` for `queue.declare`).
public struct AMQPError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The connection is closed (by the application, or earlier by an error now reported again).
        public static let connectionClosed = Code("connectionClosed")
        /// The broker closed the connection; see ``replyCode``.
        public static let connectionClosedByBroker = Code("connectionClosedByBroker")
        /// The channel is closed (by the application, or after an error).
        public static let channelClosed = Code("channelClosed")
        /// The broker closed the channel; see ``replyCode`` (404, 403, 406, ...).
        public static let channelClosedByBroker = Code("channelClosedByBroker")
        /// The broker refused the credentials.
        public static let authenticationFailed = Code("authenticationFailed")
        /// The broker refused access to the virtual host.
        public static let virtualHostAccessRefused = Code("virtualHostAccessRefused")
        /// No authentication mechanism both sides support.
        public static let noCommonAuthMechanism = Code("noCommonAuthMechanism")
        /// The peer went silent for two heartbeat intervals.
        public static let heartbeatTimeout = Code("heartbeatTimeout")
        /// Connecting or the handshake took longer than the connection timeout.
        public static let connectTimeout = Code("connectTimeout")
        /// No endpoint could be reached.
        public static let connectFailed = Code("connectFailed")
        /// The socket failed or the peer closed it.
        public static let ioError = Code("ioError")
        /// The peer broke the protocol (a malformed or unexpected frame); the connection is closed.
        public static let protocolError = Code("protocolError")
        /// Every channel id up to the negotiated channel_max is in use.
        public static let channelLimitReached = Code("channelLimitReached")
        /// A message body exceeded the configured maximum message size.
        public static let messageTooLarge = Code("messageTooLarge")
        /// An argument the application passed cannot be sent (for example a name over 255 bytes).
        public static let invalidArgument = Code("invalidArgument")
        /// A URI or configuration value is invalid.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// The broker cancelled the consumer (its queue was deleted, or it failed over).
        public static let consumerCancelledByBroker = Code("consumerCancelledByBroker")
        /// The broker nacked the published message: it was not taken responsibility for.
        public static let publishNacked = Code("publishNacked")
        /// The connection died before the broker confirmed or nacked the message; it may or may not
        /// have been routed. Republish if duplicates are acceptable.
        public static let confirmOutcomeUnknown = Code("confirmOutcomeUnknown")
        /// An operation that needs publisher confirms on a channel without them.
        public static let confirmsNotEnabled = Code("confirmsNotEnabled")
        /// The waiting task was cancelled.
        public static let cancelled = Code("cancelled")
        /// An acknowledgement for a delivery from an earlier connection or channel, which would ack
        /// the wrong message if sent.
        public static let staleDeliveryTag = Code("staleDeliveryTag")
    }

    public var code: Code
    /// A sentence for people: what failed and, where it helps, what to do.
    public var message: String
    /// The broker's reply code, when the broker closed the channel or connection.
    public var replyCode: AMQPReplyCode?
    /// The broker's reply text.
    public var replyText: String?
    /// The method the broker's close names as the cause (class and method ids).
    public var method: AMQPMethodID?
    /// The channel the error concerns, if one.
    public var channel: UInt16?
    /// The error underneath, such as a socket error or a codec error.
    public var underlying: (any Error & Sendable)?

    public init(
        _ code: Code, _ message: String, replyCode: AMQPReplyCode? = nil, replyText: String? = nil,
        method: AMQPMethodID? = nil, channel: UInt16? = nil, underlying: (any Error & Sendable)? = nil
    ) {
        self.code = code
        self.message = message
        self.replyCode = replyCode
        self.replyText = replyText
        self.method = method
        self.channel = channel
        self.underlying = underlying
    }

    public var description: String {
        var text = "AMQPError.\(code): \(message)"
        if let replyCode, let replyText, !message.contains(replyText) { text += " (\(replyCode): \(replyText))" }
        return text
    }
}

extension AMQPError {
    /// The error for a `channel.close` or `connection.close` the broker sent.
    static func closedByBroker(
        _ close: (replyCode: UInt16, replyText: String, classID: UInt16, methodID: UInt16),
        channel: UInt16?
    ) -> AMQPError {
        let method = close.classID == 0 ? nil : AMQPMethodID(classID: close.classID, methodID: close.methodID)
        let code = AMQPReplyCode(close.replyCode)
        let cause = method.map { " in reply to \($0)" } ?? ""
        let scope = channel.map { "channel \($0)" } ?? "the connection"
        return AMQPError(
            channel == nil ? .connectionClosedByBroker : .channelClosedByBroker,
            "the broker closed \(scope)\(cause): \(code) \(close.replyText)", replyCode: code,
            replyText: close.replyText, method: method, channel: channel)
    }

    static func invalidArgument(_ error: AMQPCodecError) -> AMQPError {
        AMQPError(.invalidArgument, error.message, underlying: error)
    }
}
