import Testing

@testable import AMQPWire

/// The broker closes the connection (320 CONNECTION_FORCED, as `rabbitmqctl close_connection` does).
@Suite(.timeLimit(.minutes(1)))
struct BrokerCloseTests {
    @Test func brokerCloseFailsEverythingWithTheBrokersReply() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let events = connection.events()
            let channel = try await broker.openChannel(1, on: connection)
            let consuming = Task { try await channel.consume(queue: "tasks") }
            try await broker.acceptConsume(channel: 1)
            let consumer = try await within("consume()") { try await consuming.value }
            let declaring = Task { try await channel.declareQueue("q") }
            _ = try await broker.expectMethod(channel: 1)

            let text = "CONNECTION_FORCED - Closed via management plugin"
            try await broker.send(method: .connection(.close(.init(replyCode: 320, replyText: text))))
            #expect(try await broker.expectMethod() == .connection(.closeOk(.init())))

            let pending = try await amqpError("declareQueue") { try await declaring.value }
            #expect(pending.code == .connectionClosedByBroker)
            #expect(pending.replyCode == .connectionForced)
            #expect(pending.replyText == text)
            let ended = try await amqpError("the consumer") { try await consumer.next() }
            #expect(ended.code == .connectionClosedByBroker)
            #expect(ended.replyCode == .connectionForced)
            guard case .closed(let reason) = try await events.next() else {
                Issue.record("expected a closed event")
                return
            }
            #expect(reason?.replyCode == .connectionForced)
            #expect(connection.closeReason?.replyText == text)
            try await broker.expectClientClosed()
        }
    }

    /// The write-path half of keeping the broker's reason: with reads paused (a full noAck
    /// buffer), a publish meets a socket the broker stopped reading, so the write fails (EPIPE)
    /// before any read. The connection.close the broker sent before that must be the reason.
    @Test func aWriteThatFailsFirstStillReportsTheBrokersClose() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let events = connection.events()
            let channel = try await broker.openChannel(1, on: connection)
            let consuming = Task { try await channel.consume(queue: "tasks", noAck: true, bufferCapacity: 1) }
            guard case .basic(.consume) = try await broker.expectMethod(channel: 1) else {
                Issue.record("expected basic.consume")
                return
            }
            try await broker.send(method: .basic(.consumeOk(.init(consumerTag: "ctag-1"))), channel: 1)
            let consumer = try await within("consume()") { try await consuming.value }
            // One delivery fills the buffer: the client stops reading once it is handed over.
            try await broker.sendContent(
                .basic(.deliver(.init(consumerTag: "ctag-1", deliveryTag: 1, routingKey: "tasks"))), channel: 1,
                body: [1])
            try await within("the delivery") {
                while consumer.bufferedCount == 0 { try await Task.sleep(for: .milliseconds(1)) }
            }

            let text = "CONNECTION_FORCED - Closed via management plugin"
            try await broker.send(method: .connection(.close(.init(replyCode: 320, replyText: text))))
            try await broker.stopReading()
            _ = try? await channel.publish([2], routingKey: "tasks")
            guard case .closed(let reason) = try await events.next() else {
                Issue.record("expected a closed event")
                return
            }
            #expect(reason?.code == .connectionClosedByBroker, "\(String(describing: reason))")
            #expect(connection.closeReason?.replyCode == .connectionForced)
            #expect(connection.closeReason?.replyText == text)
        }
    }
}
