import AMQPWire
import Testing

/// The everyday service loop against the real broker, with default settings: a review found it
/// deadlocked once a backlog filled the consumer's buffer (reads paused for the whole connection).
@Suite(.timeLimit(.minutes(2)), .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct ServiceLoopIntegrationTests {
    @Test func consumeThenPublishWithConfirmOnOneConnectionGetsThroughABacklog() async throws {
        let connection = try await Broker.connect()
        let setup = try await connection.openChannel()
        let input = try await setup.declareQueue(exclusive: true).name
        let output = try await setup.declareQueue(exclusive: true).name
        try await setup.enablePublisherConfirms()
        for i in 0..<3000 { try await setup.publish("m\(i)", routingKey: input) }
        let consumerChannel = try await connection.openChannel()
        let publisher = try await connection.openChannel()
        try await publisher.enablePublisherConfirms()
        let consumer = try await consumerChannel.consume(queue: input)
        var handled = 0
        for try await delivery in consumer {
            try await publisher.publish(delivery.body, routingKey: output).wait()
            try delivery.ack()
            handled += 1
            if handled == 3000 { break }
        }
        #expect(handled == 3000)
        try await consumer.cancel()
        #expect(try await setup.declareQueue(output, passive: true).messageCount == 3000)
        try await connection.close()
    }

    @Test func cancelAfterBreakingOutOfALoopWithABacklog() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        for i in 0..<3000 { try await channel.publish("m\(i)", routingKey: queue) }
        let consumer = try await channel.consume(queue: queue)
        for try await delivery in consumer {
            try delivery.ack()
            break
        }
        try await consumer.cancel()
        // Everything unacknowledged is back in the queue: the buffered deliveries were not lost.
        try await channel.recover()
        var ready: UInt32 = 0
        for _ in 0..<100 where ready != 2999 {
            ready = try await connection.openChannel().declareQueue(queue, passive: true).messageCount
            if ready != 2999 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(ready == 2999)
        try await connection.close()
    }
}
