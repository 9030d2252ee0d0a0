extension ChannelHandle {
    func ack(deliveryTag: UInt64, multiple: Bool) throws(AMQPError) {
        try send(.basic(.ack(.init(deliveryTag: deliveryTag, multiple: multiple))), what: "ack")
    }

    func nack(deliveryTag: UInt64, multiple: Bool, requeue: Bool) throws(AMQPError) {
        try send(.basic(.nack(.init(deliveryTag: deliveryTag, multiple: multiple, requeue: requeue))), what: "nack")
    }

    func reject(deliveryTag: UInt64, requeue: Bool) throws(AMQPError) {
        try send(.basic(.reject(.init(deliveryTag: deliveryTag, requeue: requeue))), what: "reject")
    }

    /// Sends only on the very channel the delivery came on: a delivery tag means nothing on another.
    private func send(_ method: AMQPMethod, what: String) throws(AMQPError) {
        do {
            try core.send(self, method)
        } catch {
            var stale = error
            if [.channelClosed, .channelClosedByBroker, .connectionClosed, .connectionClosedByBroker].contains(
                error.code)
            {
                stale.code = .staleDeliveryTag
                stale.message =
                    "cannot \(what): the channel this message was delivered on is closed (\(error.message)); the broker has requeued it, or will redeliver it"
                stale.underlying = error
            }
            throw stale
        }
    }
}
