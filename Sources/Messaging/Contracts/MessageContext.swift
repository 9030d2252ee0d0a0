public import Foundation
public import Observability

/// What the wire says about a message besides its value. Set by the publisher, read by handlers.
public struct MessageMetadata: Sendable, Hashable {
    /// Unique per message; redeliveries and retries keep it (use it for idempotency).
    public var messageID: String
    /// The message type name (``MessageContract/messageType``).
    public var messageType: String
    /// Ties messages of one conversation together (an RPC request and its reply, a workflow).
    public var correlationID: String?
    /// The id of the message whose handling caused this one.
    public var causationID: String?
    /// When it was first published (whole seconds on the wire).
    public var timestamp: Date?
    /// The publishing service.
    public var appID: String?
    /// W3C trace context (`traceparent`), carried from publish to handler.
    public var traceparent: String?

    public init(
        messageID: String = UUID().uuidString.lowercased(), messageType: String, correlationID: String? = nil,
        causationID: String? = nil, timestamp: Date? = Date(), appID: String? = nil, traceparent: String? = nil
    ) {
        self.messageID = messageID
        self.messageType = messageType
        self.correlationID = correlationID
        self.causationID = causationID
        self.timestamp = timestamp
        self.appID = appID
        self.traceparent = traceparent
    }
}

/// What a handler gets with each message.
public struct MessageContext: Sendable {
    public var metadata: MessageMetadata
    /// True when the broker delivered this message before (a consumer died before acking it)
    /// or it comes back from a delayed retry: the handler may have run for it already.
    public var isRedelivery: Bool
    /// 1 for the first delivery; counts immediate and delayed attempts.
    public var attempt: Int
    /// The queue it was consumed from.
    public var queue: String
    /// A logger with the message id, type and queue as metadata.
    public var logger: Logger
    /// True when a failure now sends the message to the error queue (no retry is left), so a
    /// handler can report a final failure (e.g. publish a "failed for good" event).
    public var isLastAttempt: Bool

    public init(
        metadata: MessageMetadata, isRedelivery: Bool, attempt: Int, queue: String, logger: Logger,
        isLastAttempt: Bool = false
    ) {
        self.metadata = metadata
        self.isRedelivery = isRedelivery
        self.attempt = attempt
        self.queue = queue
        self.logger = logger
        self.isLastAttempt = isLastAttempt
    }

    /// Metadata for a message published because of this one: same correlation and trace, this
    /// message as its cause.
    public func follow(_ messageType: String) -> MessageMetadata {
        MessageMetadata(
            messageType: messageType, correlationID: metadata.correlationID ?? metadata.messageID,
            causationID: metadata.messageID, traceparent: metadata.traceparent)
    }
}
