/// A message the broker delivered to a consumer or answered a `basic.get` with.
///
/// Acknowledge it with ``ack(multiple:)``, ``nack(multiple:requeue:)`` or ``reject(requeue:)``
/// unless it was consumed with `noAck`. These only queue a small frame and never wait for the
/// network, so they are synchronous; they throw when the channel the message came on is gone
/// (its delivery tag would name another message on a newer channel).
public struct AMQPDelivery: Sendable {
    /// The consumer it was delivered to; empty for a message from `basic.get`.
    public let consumerTag: String
    /// The broker's number for this delivery on its channel.
    public let deliveryTag: UInt64
    /// Whether the broker delivered it before (to this or another consumer) without an ack.
    public let redelivered: Bool
    public let exchange: String
    public let routingKey: String
    public let properties: BasicProperties
    public let body: [UInt8]
    /// Messages left in the queue, for a message from `basic.get`.
    public let messageCount: UInt32?

    let channel: ChannelHandle?

    init(
        consumerTag: String, deliveryTag: UInt64, redelivered: Bool, exchange: String, routingKey: String,
        properties: BasicProperties, body: [UInt8], messageCount: UInt32?, channel: ChannelHandle?
    ) {
        self.consumerTag = consumerTag
        self.deliveryTag = deliveryTag
        self.redelivered = redelivered
        self.exchange = exchange
        self.routingKey = routingKey
        self.properties = properties
        self.body = body
        self.messageCount = messageCount
        self.channel = channel
    }

    /// The body decoded as UTF-8 (invalid sequences replaced).
    public var bodyString: String { String(decoding: body, as: UTF8.self) }

    /// Acknowledges this delivery, and with `multiple` every earlier unacknowledged one on the channel.
    public func ack(multiple: Bool = false) throws(AMQPError) {
        try acknowledger().ack(deliveryTag: deliveryTag, multiple: multiple)
    }

    /// Rejects this delivery (and with `multiple` every earlier one); `requeue` puts it back in the queue.
    public func nack(multiple: Bool = false, requeue: Bool = true) throws(AMQPError) {
        try acknowledger().nack(deliveryTag: deliveryTag, multiple: multiple, requeue: requeue)
    }

    /// Rejects this one delivery; `requeue` puts it back in the queue, otherwise it is dropped or dead-lettered.
    public func reject(requeue: Bool = true) throws(AMQPError) {
        try acknowledger().reject(deliveryTag: deliveryTag, requeue: requeue)
    }

    private func acknowledger() throws(AMQPError) -> ChannelHandle {
        guard let channel else {
            throw AMQPError(
                .invalidArgument,
                "this delivery was consumed with noAck (or not from a channel) and takes no acknowledgement")
        }
        return channel
    }
}

/// A message the broker returned because it could not be routed (a `mandatory` publish).
public struct AMQPReturnedMessage: Sendable {
    public let replyCode: AMQPReplyCode
    public let replyText: String
    public let exchange: String
    public let routingKey: String
    public let properties: BasicProperties
    public let body: [UInt8]
}

/// What happens to a connection, for applications that watch it.
public enum AMQPConnectionEvent: Sendable {
    /// The broker blocked publishing (a resource alarm); publishes wait until ``unblocked``.
    case blocked(reason: String)
    case unblocked
    /// The connection failed and is being recovered; calls wait until it is back.
    case recovering(AMQPError)
    /// The connection is back, with its channels, topology and consumers restored.
    case recovered(attempts: Int, duration: Duration)
    /// A server-named queue was declared again during recovery and got a new name.
    case queueRenamed(from: String, to: String)
    /// Recovery could not restore this entity (the rest went on).
    case topologyRecoveryFailed(RecordedEntity, AMQPError)
    /// Recovery gave up; ``closed`` follows.
    case recoveryFailed(AMQPError)
    /// The connection closed for good; nil when the application closed it.
    case closed(AMQPError?)
}
