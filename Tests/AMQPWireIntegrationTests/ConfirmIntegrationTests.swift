import AMQPWire
import Testing

@Suite(.enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct ConfirmIntegrationTests {
    @Test func hundredThousandConfirmedPublishesWithAWindow() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        try await channel.enablePublisherConfirms(window: 500)
        let total = 100_000
        var confirmations: [PublishConfirmation] = []
        confirmations.reserveCapacity(total)
        let body = [UInt8](repeating: 7, count: 100)
        for _ in 0..<total {
            confirmations.append(try await channel.publish(body, routingKey: queue))
        }
        #expect(confirmations.first?.sequenceNumber == 1)
        #expect(confirmations.last?.sequenceNumber == UInt64(total))
        for confirmation in confirmations { try await confirmation.wait() }
        #expect(try await channel.declareQueue(queue, passive: true).messageCount == UInt32(total))
        try await connection.close()
    }

    @Test func publishToAFullRejectingQueueIsNacked() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(
            exclusive: true, arguments: ["x-max-length": 1, "x-overflow": "reject-publish"]
        ).name
        try await channel.enablePublisherConfirms()
        try await channel.publish("fits", routingKey: queue).wait()
        let refused = try await channel.publish("does not fit", routingKey: queue)
        let error = try await #require(throws: AMQPError.self) { try await refused.wait() }
        #expect(error.code == .publishNacked)
        // The channel goes on after a nack.
        try await channel.purgeQueue(queue)
        try await channel.publish("fits again", routingKey: queue).wait()
        try await connection.close()
    }

    @Test func unroutablePublishIsStillConfirmed() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        try await channel.enablePublisherConfirms()
        try await channel.publish("nowhere", routingKey: Broker.unique()).wait()
        try await connection.close()
    }

    @Test func waitOnAChannelWithoutConfirmsIsAClearError() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let confirmation = try await channel.publish("x", routingKey: Broker.unique())
        #expect(confirmation.sequenceNumber == 0)
        let error = try await #require(throws: AMQPError.self) { try await confirmation.wait() }
        #expect(error.code == .confirmsNotEnabled)
        try await connection.close()
    }

    @Test func confirmsOutstandingWhenTheConnectionDiesHaveUnknownOutcome() async throws {
        let proxy = try TCPProxy.forBroker()
        defer { proxy.stop() }
        let connection = try await Broker.connect { $0.endpoints = [.init(host: "127.0.0.1", port: proxy.port)] }
        let channel = try await connection.openChannel()
        try await channel.enablePublisherConfirms(window: 10_000)
        let queue = try await channel.declareQueue(exclusive: true).name
        proxy.setMode(.frozen)
        var confirmations: [PublishConfirmation] = []
        for _ in 0..<100 { confirmations.append(try await channel.publish("x", routingKey: queue)) }
        proxy.setMode(.cutAfter(bytes: 0))
        for confirmation in confirmations {
            let error = try await #require(throws: AMQPError.self) { try await confirmation.wait() }
            #expect(error.code == .confirmOutcomeUnknown)
        }
    }
}
