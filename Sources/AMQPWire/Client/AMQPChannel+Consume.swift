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
    /// Memory stays bounded without ever stalling the connection: with manual acks the broker
    /// sends at most the prefetch of unacknowledged messages, so the buffer holds at most that
    /// many. A channel without a prefetch gets one equal to `bufferCapacity` for this and later
    /// consumers (a per-consumer `basic.qos`, RabbitMQ's per_consumer_qos); with a prefetch
    /// already set, the buffer is as large as it. With `noAck` the broker cannot be slowed down
    /// by a prefetch: once `bufferCapacity` deliveries wait, the connection stops reading the
    /// socket (TCP then pushes back on the broker) until the loop takes half of them, so do not
    /// await other calls on the same connection from such a loop without taking deliveries.
    ///
    /// The sequence ends when the consumer is cancelled or its channel closed by the
    /// application, and throws when the broker cancels it (its queue was deleted) or closes the
    /// channel. Dropping the consumer cancels it and requeues what it had buffered.
    ///
    /// - Parameters:
    ///   - tag: the consumer tag; empty lets the broker choose one.
    ///   - noAck: the broker considers messages acknowledged once sent (no ack needed, none possible).
    ///   - bufferCapacity: deliveries buffered for the loop, 1 to 65535.
    public func consume(
        queue: String, tag: String = "", noAck: Bool = false, exclusive: Bool = false, noLocal: Bool = false,
        arguments: FieldTable = [:], bufferCapacity: Int = 1024
    ) async throws -> AMQPConsumer {
        guard (1...Int(UInt16.max)).contains(bufferCapacity) else {
            throw AMQPError(.invalidArgument, "bufferCapacity must be from 1 to 65535, not \(bufferCapacity)")
        }
        var capacity = bufferCapacity
        if !noAck {
            let prefetch = self.prefetch
            if prefetch == 0 {
                try await setPrefetch(count: UInt16(bufferCapacity))
            } else {
                // A per-consumer or a channel-wide (global) prefetch both bound what this consumer holds.
                capacity = max(bufferCapacity, Int(prefetch))
            }
        }
        // The buffer outlives recoveries: it wakes whichever connection is current.
        let buffer = DeliveryBuffer(capacity: capacity, pausesReads: noAck) { [weak supervisor] in
            supervisor?.core?.resumeReading()
        }
        let handle = try await currentHandle()
        let reply = try await handle.core.request(
            handle,
            .basic(
                .consume(
                    .init(
                        queue: queue, consumerTag: tag, noLocal: noLocal, noAck: noAck, exclusive: exclusive,
                        arguments: arguments)))
        ) { s, request in
            s.pendingConsumers[request] = .init(channel: handle.id, buffer: buffer, noAck: noAck)
        }
        guard case .method(.basic(.consumeOk(let ok))) = reply else {
            throw AMQPError(.protocolError, "basic.consume was not answered with consume-ok", channel: handle.id)
        }
        record.addConsumer(
            .init(
                recorded: RecordedConsumer(
                    queue: queue, tag: ok.consumerTag, noAck: noAck, exclusive: exclusive, arguments: arguments),
                buffer: buffer))
        return AMQPConsumer(channel: self, tag: ok.consumerTag, buffer: buffer, noAck: noAck)
    }

    /// Fetches one message from `queue` (`basic.get`), or nil when it is empty. Prefer a
    /// consumer for a stream of messages: each get is a round trip.
    public func get(queue: String, noAck: Bool = false) async throws -> AMQPDelivery? {
        let handle = try await currentHandle()
        let reply = try await handle.core.request(handle, .basic(.get(.init(queue: queue, noAck: noAck)))) {
            s, request in
            s.pendingGets[request] = (handle.id, noAck)
        }
        switch reply {
        case .method:
            return nil  // get-empty
        case .message(let message):
            guard case .getOk(let ok) = message.method else { return nil }
            return AMQPDelivery(
                consumerTag: "", deliveryTag: DeliveryTags.application(ok.deliveryTag, offset: handle.tagOffset),
                redelivered: ok.redelivered,
                exchange: ok.exchange, routingKey: ok.routingKey, properties: message.properties, body: message.body,
                messageCount: ok.messageCount, channel: noAck ? nil : handle)
        }
    }

    /// Acknowledges delivery `deliveryTag` (and every earlier one with `multiple`). A tag from
    /// before a recovery is refused with `staleDeliveryTag` (never sent: it would name another
    /// message). Prefer ``AMQPDelivery/ack(multiple:)``.
    public func ack(deliveryTag: UInt64, multiple: Bool = false) throws(AMQPError) {
        try openHandle().ack(deliveryTag: deliveryTag, multiple: multiple)
    }

    /// Rejects delivery `deliveryTag` (and every earlier one with `multiple`), requeueing it or not.
    public func nack(deliveryTag: UInt64, multiple: Bool = false, requeue: Bool = true) throws(AMQPError) {
        try openHandle().nack(deliveryTag: deliveryTag, multiple: multiple, requeue: requeue)
    }

    /// Rejects one delivery, requeueing it or not.
    public func reject(deliveryTag: UInt64, requeue: Bool = true) throws(AMQPError) {
        try openHandle().reject(deliveryTag: deliveryTag, requeue: requeue)
    }

    /// The handle now, for calls that never wait (acknowledgements).
    private func openHandle() throws(AMQPError) -> ChannelHandle {
        switch record.current {
        case .open(let handle): return handle
        case .closed(let error): throw error
        case .suspended:
            throw AMQPError(
                .staleDeliveryTag,
                "the connection is recovering: deliveries from before it are requeued by the broker and cannot be acknowledged"
            )
        }
    }
}
