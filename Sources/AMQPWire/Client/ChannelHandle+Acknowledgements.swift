extension ChannelHandle {
    func ack(deliveryTag: UInt64, multiple: Bool) throws(AMQPError) {
        let tag = try brokerTag(deliveryTag, what: "ack")
        try send(.basic(.ack(.init(deliveryTag: tag, multiple: multiple))), what: "ack")
    }

    func nack(deliveryTag: UInt64, multiple: Bool, requeue: Bool) throws(AMQPError) {
        let tag = try brokerTag(deliveryTag, what: "nack")
        try send(.basic(.nack(.init(deliveryTag: tag, multiple: multiple, requeue: requeue))), what: "nack")
    }

    func reject(deliveryTag: UInt64, requeue: Bool) throws(AMQPError) {
        let tag = try brokerTag(deliveryTag, what: "reject")
        try send(.basic(.reject(.init(deliveryTag: tag, requeue: requeue))), what: "reject")
    }

    /// The broker's tag for an application-visible one; a tag from before this channel's
    /// connection (before a recovery) names nothing here and is refused, never sent.
    private func brokerTag(_ tag: UInt64, what: String) throws(AMQPError) -> UInt64 {
        guard tag > tagOffset else {
            throw AMQPError(
                .staleDeliveryTag,
                "cannot \(what) delivery tag \(tag): it was delivered on a connection that has since been recovered; the broker has requeued that message",
                channel: id)
        }
        return tag - tagOffset
    }

    /// Sends only on the very channel the delivery came on: a delivery tag means nothing on another.
    /// That fails only when the channel or its connection is gone, whatever ended it (a close, a
    /// network failure, a missed heartbeat): the delivery is stale then.
    private func send(_ method: AMQPMethod, what: String) throws(AMQPError) {
        do {
            try core.send(self, method)
        } catch {
            var stale = error
            stale.code = .staleDeliveryTag
            stale.message =
                "cannot \(what): the channel this message was delivered on is closed (\(error.message)); the broker has requeued it, or will redeliver it"
            stale.underlying = error
            throw stale
        }
    }
}
