import Testing

@testable import AMQPWire

/// Methods the broker sends on its own: consumer cancellation, publisher confirms, flow control.
@Suite struct ChannelBrokerMethodTests {
    @Test func brokerCancelIsAnsweredWithCancelOkUnlessNoWait() throws {
        var channel = try ChannelDriver.open(id: 2)
        let (waited, disposition) = try channel.receive(.basic(.cancel(.init(consumerTag: "c1", noWait: false))))
        #expect(
            waited.recorded == [
                .send(channel: 2, .basic(.cancelOk(.init(consumerTag: "c1")))),
                .consumerCancelled(2, "c1"),
            ])
        #expect(disposition == .keep)

        let (noWait, _) = try channel.receive(.basic(.cancel(.init(consumerTag: "c2", noWait: true))))
        #expect(noWait.recorded == [.consumerCancelled(2, "c2")])
    }

    @Test(arguments: [(UInt64(1), false), (UInt64(42), true), (UInt64.max, true)])
    func acksAndNacksAreForwardedWithTheirFlags(tag: UInt64, multiple: Bool) throws {
        var channel = try ChannelDriver.open(id: 5)
        let (acked, _) = try channel.receive(.basic(.ack(.init(deliveryTag: tag, multiple: multiple))))
        #expect(acked.recorded == [.confirm(5, tag: tag, multiple: multiple, ack: true)])
        let (nacked, _) = try channel.receive(.basic(.nack(.init(deliveryTag: tag, multiple: multiple, requeue: true))))
        #expect(nacked.recorded == [.confirm(5, tag: tag, multiple: multiple, ack: false)])
    }

    @Test func confirmsNeedNoPendingRequest() throws {
        // Confirms are not replies: a pending request stays pending.
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.send(request: 1, .basic(.qos(.init())))
        _ = try channel.receive(.basic(.ack(.init(deliveryTag: 1))))
        #expect(
            try channel.receive(.basic(.qosOk(.init()))).0.recorded == [.succeed(1, .method(.basic(.qosOk(.init()))))])
    }

    @Test func flowIsAnsweredWithFlowOkAndReported() throws {
        var channel = try ChannelDriver.open(id: 3)
        #expect(channel.machine.flowActive)
        let (paused, _) = try channel.receive(.channel(.flow(.init(active: false))))
        #expect(paused.recorded == [.send(channel: 3, .channel(.flowOk(.init(active: false)))), .flow(3, false)])
        #expect(!channel.machine.flowActive)
        let (resumed, _) = try channel.receive(.channel(.flow(.init(active: true))))
        #expect(resumed.recorded == [.send(channel: 3, .channel(.flowOk(.init(active: true)))), .flow(3, true)])
        #expect(channel.machine.flowActive)
    }
}
