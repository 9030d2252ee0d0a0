import AMQPWire
import Foundation
import Testing

@Suite(.enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct PublishConsumeIntegrationTests {
    @Test func everyPropertyRoundTripsThroughTheBroker() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        let properties = BasicProperties(
            contentType: "application/json", contentEncoding: "gzip", headers: ["trace": "abc"], deliveryMode: 2,
            priority: 7, correlationID: "corr-1", replyTo: "reply.queue", expiration: "60000", messageID: "msg-1",
            timestamp: AMQPTimestamp(secondsSince1970: 1_700_000_000), type: "email.command", userID: "guest",
            appID: "tests", clusterID: "cluster")
        try await channel.publish("{}", routingKey: queue, properties: properties)
        let delivery = try #require(try await channel.get(queue: queue, noAck: true))
        var expected = properties
        // RabbitMQ drops the deprecated cluster-id property.
        expected.clusterID = delivery.properties.clusterID
        #expect(delivery.properties == expected)
        #expect(delivery.routingKey == queue && delivery.exchange == "")
        try await connection.close()
    }

    @Test func headersWithEveryFieldTypeRoundTripThroughTheBroker() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        let headers: FieldTable = [
            "t": .boolean(true), "b": .int8(-8), "B": .uint8(200), "s": .int16(-1600), "u": .uint16(60000),
            "I": .int32(-2_000_000), "i": .uint32(4_000_000_000), "l": .int64(-9_000_000_000), "f": .float(1.5),
            "d": .double(-2.25), "D": .decimal(AMQPDecimal(scale: 2, value: 12345)), "S": .string("grüße"),
            "A": .array([.int32(1), .string("two"), .array([.boolean(false)])]),
            "T": .timestamp(AMQPTimestamp(secondsSince1970: 1_700_000_123)),
            "F": .table(["nested": .table(["deep": .int64(1)])]), "V": .void, "x": .bytes([0, 1, 2, 255]),
        ]
        try await channel.publish("h", routingKey: queue, properties: .init(headers: headers))
        let delivery = try #require(try await channel.get(queue: queue, noAck: true))
        let received = try #require(delivery.properties.headers)
        for entry in headers {
            #expect(received[entry.key] == entry.value, "field '\(entry.key)' changed in transit")
        }
        #expect(received.count == headers.count)
        try await connection.close()
    }

    @Test func emptyMessageIsDeliveredWithAnEmptyBody() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        try await channel.publish([UInt8](), routingKey: queue)
        let consumer = try await channel.consume(queue: queue, noAck: true)
        var iterator = consumer.makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        #expect(delivery.body.isEmpty)
        try await connection.close()
    }

    @Test func hundredMebibyteMessageCrossesManyBodyFrames() async throws {
        let size = 100 << 20
        let connection = try await Broker.connect { $0.maxMessageSize = 128 << 20 }
        let channel = try await connection.openChannel()
        try await channel.enablePublisherConfirms()
        let queue = try await channel.declareQueue(exclusive: true).name
        // A marker in every 64 KiB, so a frame lost, doubled or reordered shows.
        var body = [UInt8](repeating: 0xA5, count: size)
        for i in stride(from: 0, to: size, by: 1 << 16) { body[i] = UInt8(truncatingIfNeeded: i >> 16) }
        body[size - 1] = 0xAB
        try await channel.publish(body, routingKey: queue).wait()
        let delivery = try #require(try await channel.get(queue: queue, noAck: true))
        #expect(delivery.body.count == size)
        // memcmp: an element-by-element comparison of 100 MiB in a debug build hogs a thread for seconds.
        let same = delivery.body.withUnsafeBytes { a in
            body.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, size) == 0 }
        }
        #expect(same)
        try await connection.close()
    }

    @Test func messageOverTheMaximumSizeClosesOnlyItsChannelAndStaysQueued() async throws {
        let connection = try await Broker.connect { $0.maxMessageSize = 1000 }
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(Broker.unique(), autoDelete: false).name
        try await channel.publish([UInt8](repeating: 1, count: 5000), routingKey: queue)
        let consumer = try await channel.consume(queue: queue)
        var iterator = consumer.makeAsyncIterator()
        let error = try await #require(throws: AMQPError.self) { _ = try await iterator.next() }
        #expect(error.code == .messageTooLarge)
        #expect(error.message.contains("5000"))
        #expect(connection.isOpen)
        let other = try await connection.openChannel()
        // Nothing lost: the broker still has it.
        var count: UInt32 = 0
        for _ in 0..<50 where count == 0 {
            count = try await other.declareQueue(queue, passive: true).messageCount
            if count == 0 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(count == 1)
        try await other.deleteQueue(queue)
        try await connection.close()
    }

    @Test func mandatoryPublishToNowhereIsReturned() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let returns = channel.returnedMessages()
        let key = Broker.unique()
        try await channel.publish("lost?", routingKey: key, mandatory: true, properties: .init(messageID: "m-1"))
        var iterator = returns.makeAsyncIterator()
        let returned = try #require(await iterator.next())
        #expect(returned.replyCode == .noRoute)
        #expect(returned.replyText == "NO_ROUTE")
        #expect(returned.routingKey == key)
        #expect(returned.properties.messageID == "m-1")
        #expect(String(decoding: returned.body, as: UTF8.self) == "lost?")
        try await connection.close()
    }

    @Test func acksNacksAndRejectsSettleTheRightMessages() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        for i in 1...6 { try await channel.publish("\(i)", routingKey: queue) }
        let consumer = try await channel.consume(queue: queue)
        var iterator = consumer.makeAsyncIterator()
        var received: [AMQPDelivery] = []
        for _ in 1...6 { received.append(try #require(try await iterator.next())) }
        #expect(received.map(\.bodyString) == ["1", "2", "3", "4", "5", "6"])
        try received[1].ack(multiple: true)  // settles 1 and 2
        try received[2].reject(requeue: false)  // 3 is dropped
        try received[3].nack(requeue: true)  // 4 comes back
        try received[5].nack(multiple: true, requeue: true)  // 5 and 6 come back
        var redelivered: [String] = []
        for _ in 0..<3 {
            let d = try #require(try await iterator.next())
            #expect(d.redelivered)
            redelivered.append(d.bodyString)
            try d.ack()
        }
        #expect(redelivered.sorted() == ["4", "5", "6"])
        try await consumer.cancel()
        #expect(try await channel.declareQueue(queue, passive: true).messageCount == 0)
        try await connection.close()
    }

    @Test func ackingAnUnknownTagClosesTheChannelWith406() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        try channel.ack(deliveryTag: 999)
        let error = try await #require(throws: AMQPError.self) { try await channel.declareQueue(exclusive: true) }
        #expect(error.code == .channelClosedByBroker)
        #expect(error.replyCode == .preconditionFailed)
        #expect(error.method == .basicAck)
        #expect(connection.isOpen)
        try await connection.close()
    }

    @Test func recoverRedeliversUnackedMessages() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        try await channel.publish("again", routingKey: queue)
        let consumer = try await channel.consume(queue: queue)
        var iterator = consumer.makeAsyncIterator()
        let first = try #require(try await iterator.next())
        #expect(!first.redelivered)
        try await channel.recover(requeue: true)
        let second = try #require(try await iterator.next())
        #expect(second.redelivered && second.bodyString == "again")
        try second.ack()
        try await connection.close()
    }

    @Test func consumerIsCancelledByDeletingItsQueue() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(Broker.unique(), autoDelete: false).name
        let consumer = try await channel.consume(queue: queue)
        let other = try await connection.openChannel()
        try await other.deleteQueue(queue)
        var iterator = consumer.makeAsyncIterator()
        let error = try await #require(throws: AMQPError.self) { _ = try await iterator.next() }
        #expect(error.code == .consumerCancelledByBroker)
        #expect(error.message.contains(consumer.tag))
        // The channel stays open after a broker cancel.
        #expect(channel.isOpen)
        try await channel.declareQueue(exclusive: true)
        try await connection.close()
    }

    @Test func cancelEndsTheSequenceAfterBufferedDeliveries() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        let consumer = try await channel.consume(queue: queue, tag: "my-tag", noAck: true)
        #expect(consumer.tag == "my-tag")
        try await channel.publish("one", routingKey: queue)
        var iterator = consumer.makeAsyncIterator()
        #expect(try await iterator.next()?.bodyString == "one")
        try await consumer.cancel()
        #expect(try await iterator.next() == nil)
        try await connection.close()
    }

    @Test func droppedConsumerRequeuesWhatItHadBuffered() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        for i in 0..<10 { try await channel.publish("\(i)", routingKey: queue) }
        do {
            let consumer = try await channel.consume(queue: queue)
            var iterator = consumer.makeAsyncIterator()
            let first = try #require(try await iterator.next())
            try first.ack()
        }  // consumer released here: cancelled, its unacked deliveries requeued
        var remaining: UInt32 = 0
        for _ in 0..<100 where remaining != 9 {
            try await Task.sleep(for: .milliseconds(20))
            remaining = try await channel.declareQueue(queue, passive: true).messageCount
        }
        #expect(remaining == 9)
        try await connection.close()
    }

    @Test func prefetchLimitsUnackedDeliveries() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        try await channel.setPrefetch(count: 2)
        for i in 0..<5 { try await channel.publish("\(i)", routingKey: queue) }
        let consumer = try await channel.consume(queue: queue)
        var iterator = consumer.makeAsyncIterator()
        let a = try #require(try await iterator.next())
        _ = try #require(try await iterator.next())
        // With two unacked, the broker holds the rest back.
        var ready: UInt32 = 0
        for _ in 0..<50 where ready != 3 {
            ready = try await connection.openChannel().declareQueue(queue, passive: true).messageCount
        }
        #expect(ready == 3)
        try a.ack(multiple: true)
        #expect(try await iterator.next() != nil)
        try await connection.close()
    }

    @Test func getReportsRemainingMessages() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        try await channel.enablePublisherConfirms()
        for i in 0..<3 { try await channel.publish("\(i)", routingKey: queue).wait() }
        let first = try #require(try await channel.get(queue: queue))
        #expect(first.messageCount == 2)
        #expect(first.bodyString == "0")
        try first.ack()
        try await connection.close()
    }

    @Test func transactionsCommitAndRollBack() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        try await channel.enableTransactions()
        try await channel.publish("rolled back", routingKey: queue)
        try await channel.rollbackTransaction()
        try await channel.publish("committed", routingKey: queue)
        try await channel.commitTransaction()
        let delivery = try #require(try await channel.get(queue: queue, noAck: true))
        #expect(delivery.bodyString == "committed")
        #expect(try await channel.get(queue: queue) == nil)
        try await connection.close()
    }

    @Test func manyTasksPublishingConcurrentlyDeliverEveryMessageIntact() async throws {
        let connection = try await Broker.connect()
        let setup = try await connection.openChannel()
        let queue = try await setup.declareQueue(exclusive: true).name
        let tasks = 8
        let perTask = 500
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in 0..<tasks {
                group.addTask {
                    // Two tasks per channel, so frames of different publishes share channels too.
                    let channel = t % 2 == 0 ? setup : try await connection.openChannel()
                    for i in 0..<perTask {
                        let body = Array(repeating: UInt8(t), count: 1000 + i)
                        try await channel.publish(body, routingKey: queue, properties: .init(messageID: "\(t)-\(i)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let consumer = try await setup.consume(queue: queue, noAck: true)
        var seen = Set<String>()
        for try await delivery in consumer {
            let id = try #require(delivery.properties.messageID)
            let parts = id.split(separator: "-").compactMap { Int($0) }
            #expect(delivery.body.count == 1000 + parts[1])
            #expect(delivery.body.allSatisfy { $0 == UInt8(parts[0]) })
            seen.insert(id)
            if seen.count == tasks * perTask { break }
        }
        #expect(seen.count == tasks * perTask)
        try await connection.close()
    }
}
