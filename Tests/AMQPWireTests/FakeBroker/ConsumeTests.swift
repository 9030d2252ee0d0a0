import Testing

@testable import AMQPWire

/// Consumers, acknowledgements, cancellation by the broker, and basic.get.
@Suite(.timeLimit(.minutes(1)))
struct ConsumeTests {
    /// Starts a consumer on channel 1 that the broker tags `tag`.
    private func consume(
        _ channel: AMQPChannel, _ broker: FakeBroker, tag: String = "ctag-1"
    ) async throws -> AMQPConsumer {
        let consuming = Task { try await channel.consume(queue: "tasks") }
        #expect(try await broker.acceptConsume(channel: 1, tag: tag) == .init(queue: "tasks"))
        return try await within("consume()") { try await consuming.value }
    }

    private func deliver(
        _ broker: FakeBroker, tag: UInt64, body: [UInt8], properties: BasicProperties = .init(),
        frameMax: UInt32 = 131_072
    ) async throws {
        try await broker.sendContent(
            .basic(.deliver(.init(consumerTag: "ctag-1", deliveryTag: tag, exchange: "ex", routingKey: "rk"))),
            channel: 1,
            properties: properties, body: body, frameMax: frameMax)
    }

    @Test func deliveriesArriveInOrderWithTheirBodies() async throws {
        let tune = AMQPMethod.Connection.Tune(channelMax: 2047, frameMax: 8192, heartbeat: 0)
        try await FakeBroker.withConnection(tune: tune) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await consume(channel, broker)
            #expect(consumer.tag == "ctag-1")
            let large = (0..<30_000).map { UInt8(truncatingIfNeeded: $0 &* 13) }
            try await deliver(broker, tag: 1, body: [], properties: .init(messageID: "empty"))
            try await deliver(broker, tag: 2, body: large, frameMax: 8192)
            try await deliver(broker, tag: 3, body: Array("small".utf8))
            let first = try #require(try await consumer.next())
            #expect(first.deliveryTag == 1)
            #expect(first.body.isEmpty)
            #expect(first.properties.messageID == "empty")
            #expect((first.consumerTag, first.exchange, first.routingKey) == ("ctag-1", "ex", "rk"))
            let second = try #require(try await consumer.next())
            #expect(second.deliveryTag == 2)
            #expect(second.body == large)
            let third = try #require(try await consumer.next())
            #expect(third.bodyString == "small")
        }
    }

    /// After a read that brought deliveries the I/O thread leaves the socket unread for
    /// `deliveryCoalescing` (here its longest, 10 ms). What arrives meanwhile must still be
    /// delivered once the time is up, and an ack queued meanwhile must go out.
    ///
    /// The one timing check is a lower bound, which load can only make truer: the second delivery
    /// is sent after the client read the first, so it cannot be read before 10 ms after that.
    @Test func deliveryCoalescingHoldsNothingBackForGood() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.deliveryCoalescing = .milliseconds(10)
        try await FakeBroker.withConnection(configuration) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await consume(channel, broker)
            for round in UInt64(0)..<10 {
                let start = ContinuousClock.now
                try await deliver(broker, tag: 2 * round + 1, body: [1])
                let first = try #require(try await consumer.next())
                // Sent while the window that delivery opened is still running.
                try await deliver(broker, tag: 2 * round + 2, body: [2])
                let second = try #require(try await consumer.next())
                #expect(ContinuousClock.now - start >= .milliseconds(10), "the second delivery was not held back")
                #expect((first.deliveryTag, second.deliveryTag) == (2 * round + 1, 2 * round + 2))
                try second.ack(multiple: true)
                #expect(
                    try await broker.expectMethod(channel: 1)
                        == .basic(.ack(.init(deliveryTag: 2 * round + 2, multiple: true))))
            }
            withExtendedLifetime(consumer) {}
        }
    }

    @Test func acknowledgementsSendTheirFrames() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await consume(channel, broker)
            for tag in UInt64(1)...3 { try await deliver(broker, tag: tag, body: [UInt8(tag)]) }
            var deliveries: [AMQPDelivery] = []
            for _ in 0..<3 { deliveries.append(try #require(try await consumer.next())) }
            try deliveries[0].ack()
            try deliveries[1].nack(multiple: true, requeue: false)
            try deliveries[2].reject(requeue: true)
            try channel.ack(deliveryTag: 3, multiple: true)
            var sent: [AMQPMethod] = []
            for _ in 0..<4 { sent.append(try await broker.expectMethod(channel: 1)) }
            #expect(
                sent == [
                    .basic(.ack(.init(deliveryTag: 1, multiple: false))),
                    .basic(.nack(.init(deliveryTag: 2, multiple: true, requeue: false))),
                    .basic(.reject(.init(deliveryTag: 3, requeue: true))),
                    .basic(.ack(.init(deliveryTag: 3, multiple: true))),
                ])
            withExtendedLifetime(consumer) {}  // a released consumer sends basic.cancel
        }
    }

    /// An ack for a delivery whose connection failed (here the socket ends: ioError) is refused as
    /// stale, as after a broker close: a recovering application catches one code. It used to throw
    /// the connection's ioError. Found by the integration stairway, whose consumer acks while the
    /// link is cut under it.
    @Test func ackAfterANetworkFailureIsRefusedAsStale() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await consume(channel, broker)
            try await deliver(broker, tag: 1, body: Array("job".utf8))
            let delivery = try #require(try await within("the delivery") { try await consumer.next() })
            broker.close()
            try await eventually("the connection noticed the end") { !connection.isOpen }
            let error = try #require(throws: AMQPError.self) { try delivery.ack() }
            #expect(error.code == .staleDeliveryTag)
            #expect((error.underlying as? AMQPError)?.code == .ioError)
        }
    }

    @Test func brokerCancelWithNoWaitEndsTheConsumerWithoutReply() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await consume(channel, broker)
            try await deliver(broker, tag: 1, body: Array("before".utf8))
            try await broker.send(method: .basic(.cancel(.init(consumerTag: "ctag-1", noWait: true))), channel: 1)
            // Deliveries already buffered come first, then the error.
            #expect(try await consumer.next()?.bodyString == "before")
            let error = try await amqpError("the consumer after the broker's cancel") { try await consumer.next() }
            #expect(error.code == .consumerCancelledByBroker)
            // The client's next frame is the fence, not a cancel-ok.
            try channel.ack(deliveryTag: 1)
            #expect(try await broker.expectMethod(channel: 1) == .basic(.ack(.init(deliveryTag: 1))))
        }
    }

    @Test func brokerCancelExpectingAReplyGetsCancelOk() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await consume(channel, broker)
            try await broker.send(method: .basic(.cancel(.init(consumerTag: "ctag-1", noWait: false))), channel: 1)
            #expect(try await broker.expectMethod(channel: 1) == .basic(.cancelOk(.init(consumerTag: "ctag-1"))))
            let error = try await amqpError("the consumer after the broker's cancel") { try await consumer.next() }
            #expect(error.code == .consumerCancelledByBroker)
        }
    }

    @Test func getReturnsTheMessageWithItsMessageCount() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let getting = Task { try await channel.get(queue: "tasks") }
            #expect(try await broker.expectMethod(channel: 1) == .basic(.get(.init(queue: "tasks"))))
            try await broker.sendContent(
                .basic(
                    .getOk(
                        .init(deliveryTag: 9, redelivered: true, exchange: "", routingKey: "tasks", messageCount: 41))),
                channel: 1, properties: .init(contentType: "text/plain"), body: Array("job".utf8))
            let delivery = try #require(try await within("get()") { try await getting.value })
            #expect(delivery.messageCount == 41)
            #expect(delivery.deliveryTag == 9)
            #expect(delivery.redelivered)
            #expect(delivery.bodyString == "job")
            #expect(delivery.properties.contentType == "text/plain")
            try delivery.ack()
            #expect(try await broker.expectMethod(channel: 1) == .basic(.ack(.init(deliveryTag: 9))))
        }
    }

    @Test func getOnAnEmptyQueueReturnsNil() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let getting = Task { try await channel.get(queue: "tasks") }
            _ = try await broker.expectMethod(channel: 1)
            try await broker.send(method: .basic(.getEmpty(.init())), channel: 1)
            #expect(try await within("get()") { try await getting.value } == nil)
        }
    }
}
