/// A consumer's deliveries, as an `AsyncSequence` (see ``AMQPChannel/consume(queue:tag:noAck:exclusive:noLocal:arguments:bufferCapacity:)``).
///
/// Iterate it from one task. The sequence ends (returns nil) after ``cancel()`` or when the
/// channel or connection is closed by the application; it throws when the broker cancels the
/// consumer or closes the channel, after the deliveries already buffered.
public final class AMQPConsumer: AsyncSequence, Sendable {
    public typealias Element = AMQPDelivery

    /// The consumer tag (the broker's, if none was given).
    public let tag: String
    /// The channel the consumer runs on.
    public let channel: AMQPChannel
    let buffer: DeliveryBuffer
    let noAck: Bool

    init(channel: AMQPChannel, tag: String, buffer: DeliveryBuffer, noAck: Bool) {
        self.channel = channel
        self.tag = tag
        self.buffer = buffer
        self.noAck = noAck
    }

    deinit {
        // Nobody can iterate any more: stop the broker sending, and put back what was buffered.
        abandon()
    }

    /// The number of deliveries waiting in the buffer (for tests and monitoring).
    public var bufferedCount: Int { buffer.bufferedCount }

    /// Cancels the consumer and waits for the broker's cancel-ok. Deliveries already buffered
    /// can still be taken; then the sequence ends (also if the waiting task is cancelled: the
    /// consumer ends when the cancel-ok arrives). Cancelling an ended consumer does nothing.
    public func cancel() async throws {
        let tag = self.tag
        guard let recorded = channel.record.removeConsumer(tag: tag) else { return }
        channel.supervisor.consumerCancelled(on: recorded.recorded.queue)
        guard case .open(let handle) = channel.record.current else {
            buffer.finish(nil)  // closed or recovering: nothing to cancel at the broker
            return
        }
        let registered = handle.core.state.withLock { $0.channels[handle.id]?.consumers[tag] != nil }
        guard registered else {
            buffer.finish(nil)
            return
        }
        _ = try await handle.core.request(handle, .basic(.cancel(.init(consumerTag: tag)))) { s, request in
            s.pendingCancels[request] = (handle.id, tag)
        }
    }

    private func abandon() {
        let (tag, noAck) = (self.tag, self.noAck)
        if let recorded = channel.record.removeConsumer(tag: tag) {
            channel.supervisor.consumerCancelled(on: recorded.recorded.queue)
        }
        if case .open(let handle) = channel.record.current {
            try? handle.core.locked { (s, _) throws(AMQPError) in
                guard s.channels[handle.id]?.incarnation == handle.incarnation,
                    s.channels[handle.id]?.consumers.removeValue(forKey: tag) != nil
                else { return }
                s.channels[handle.id]?.abandon(tag, noAck: noAck)
                try s.machine.withChannel(handle.id, into: &s.actions) { (ch, actions) throws(AMQPError) in
                    try ch.send(.basic(.cancel(.init(consumerTag: tag, noWait: true))), into: &actions)
                }
            }
        }
        for delivery in buffer.drainAndEnd() where !noAck {
            try? delivery.reject(requeue: true)
        }
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: AMQPConsumer
        public mutating func next() async throws -> AMQPDelivery? { try await consumer.buffer.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: self) }
}
