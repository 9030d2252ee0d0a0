extension AMQPChannel {
    /// Starts a consumer on `queue`. Iterate the result for the deliveries:
    ///
    /// ```swift
    /// let consumer = try await channel.consume(queue: "tasks")
    /// for try await delivery in consumer {
    ///     handle(delivery.body)
    ///     try delivery.ack()
    /// }
    /// ```
    ///
    /// Deliveries wait in a buffer of `bufferCapacity`; when it is full the connection stops
    /// reading from the socket until the loop catches up (TCP then slows the broker), so memory
    /// stays bounded. Set a prefetch (``setPrefetch(count:size:global:)``) no larger than the
    /// buffer and the buffer never fills. The sequence ends when the consumer is cancelled or its
    /// channel closes, and throws when the broker cancels it (its queue was deleted) or closes the
    /// channel. Dropping the consumer cancels it and requeues what it had buffered.
    ///
    /// - Parameters:
    ///   - tag: the consumer tag; empty lets the broker choose one.
    ///   - noAck: the broker considers messages acknowledged once sent (no ack needed, none possible).
    public func consume(
        queue: String, tag: String = "", noAck: Bool = false, exclusive: Bool = false, noLocal: Bool = false,
        arguments: FieldTable = [:], bufferCapacity: Int = 1024
    ) async throws -> AMQPConsumer {
        let core = self.core
        let buffer = DeliveryBuffer(capacity: bufferCapacity) { core.resumeReading() }
        let id = self.id
        let reply = try await call(
            .basic(
                .consume(
                    .init(
                        queue: queue, consumerTag: tag, noLocal: noLocal, noAck: noAck, exclusive: exclusive,
                        arguments: arguments)))
        ) { s, request in
            s.pendingConsumers[request] = .init(channel: id, buffer: buffer, noAck: noAck)
        }
        guard case .basic(.consumeOk(let ok)) = reply else { throw unexpected(reply) }
        return AMQPConsumer(channel: self, tag: ok.consumerTag, buffer: buffer, noAck: noAck)
    }

    /// Fetches one message from `queue` (`basic.get`), or nil when it is empty. Prefer a
    /// consumer for a stream of messages: each get is a round trip.
    public func get(queue: String, noAck: Bool = false) async throws -> AMQPDelivery? {
        let reply = try await core.request(handle, .basic(.get(.init(queue: queue, noAck: noAck))))
        switch reply {
        case .method:
            return nil  // get-empty
        case .message(let message):
            guard case .getOk(let ok) = message.method else { return nil }
            return AMQPDelivery(
                consumerTag: "", deliveryTag: ok.deliveryTag, redelivered: ok.redelivered, exchange: ok.exchange,
                routingKey: ok.routingKey, properties: message.properties, body: message.body,
                messageCount: ok.messageCount, channel: noAck ? nil : handle)
        }
    }

    /// Acknowledges delivery `deliveryTag` (and every earlier one with `multiple`).
    public func ack(deliveryTag: UInt64, multiple: Bool = false) throws(AMQPError) {
        try handle.ack(deliveryTag: deliveryTag, multiple: multiple)
    }

    /// Rejects delivery `deliveryTag` (and every earlier one with `multiple`), requeueing it or not.
    public func nack(deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) throws(AMQPError) {
        try handle.nack(deliveryTag: deliveryTag, multiple: multiple, requeue: requeue)
    }

    /// Rejects one delivery, requeueing it or not.
    public func reject(deliveryTag: UInt64, requeue: Bool = true) throws(AMQPError) {
        try handle.reject(deliveryTag: deliveryTag, requeue: requeue)
    }
}
