import AMQPWire
import Testing

@Suite(.enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct TopologyIntegrationTests {
    @Test func serverNamedQueueIsReturned() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let declared = try await channel.declareQueue(exclusive: true)
        #expect(declared.name.hasPrefix("amq.gen-"))
        #expect(declared.messageCount == 0 && declared.consumerCount == 0)
        try await connection.close()
    }

    @Test func bindingsRouteThroughEveryExchangeType() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let name = Broker.unique()
        let queue = try await channel.declareQueue(exclusive: true).name

        try await channel.declareExchange(name + ".topic", type: .topic)
        try await channel.bindQueue(queue, to: name + ".topic", routingKey: "recipe.*")
        try await channel.publish("t", exchange: name + ".topic", routingKey: "recipe.created")
        try await channel.publish("x", exchange: name + ".topic", routingKey: "other.created")

        try await channel.declareExchange(name + ".fanout", type: .fanout, autoDelete: true)
        try await channel.bindQueue(queue, to: name + ".fanout")
        try await channel.publish("f", exchange: name + ".fanout", routingKey: "anything")

        try await channel.declareExchange(name + ".headers", type: .headers, autoDelete: true)
        try await channel.bindQueue(queue, to: name + ".headers", arguments: ["x-match": "all", "kind": "h"])
        try await channel.publish(
            "h", exchange: name + ".headers", routingKey: "", properties: .init(headers: ["kind": "h"]))

        // Exchange-to-exchange: direct → fanout → queue.
        try await channel.declareExchange(name + ".direct", type: .direct)
        try await channel.bindExchange(name + ".fanout", to: name + ".direct", routingKey: "e2e")
        try await channel.publish("e", exchange: name + ".direct", routingKey: "e2e")

        var bodies: [String] = []
        for _ in 0..<4 {
            let delivery = try #require(try await channel.get(queue: queue, noAck: true))
            bodies.append(delivery.bodyString)
        }
        #expect(bodies == ["t", "f", "h", "e"])
        #expect(try await channel.get(queue: queue) == nil)

        try await channel.unbindExchange(name + ".fanout", from: name + ".direct", routingKey: "e2e")
        try await channel.unbindQueue(queue, from: name + ".topic", routingKey: "recipe.*")
        try await channel.publish("gone", exchange: name + ".direct", routingKey: "e2e")
        try await channel.publish("gone", exchange: name + ".topic", routingKey: "recipe.created")
        #expect(try await channel.purgeQueue(queue) == 0)
        // Exchanges that are not auto-delete stay until deleted (auto-delete ones go with their last binding).
        try await channel.deleteExchange(name + ".direct")
        try await channel.deleteExchange(name + ".topic", ifUnused: true)
        try await connection.close()
    }

    @Test func purgeAndDeleteReportMessageCounts() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        try await channel.enablePublisherConfirms()
        let queue = try await channel.declareQueue(Broker.unique(), autoDelete: false).name
        for i in 0..<5 { try await channel.publish("m\(i)", routingKey: queue).wait() }
        #expect(try await channel.declareQueue(queue, passive: true).messageCount == 5)
        #expect(try await channel.purgeQueue(queue) == 5)
        try await channel.publish("again", routingKey: queue).wait()
        #expect(try await channel.deleteQueue(queue) == 1)
        try await connection.close()
    }

    @Test func missingQueueIs404AndTheConnectionStaysUp() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let error = try await #require(throws: AMQPError.self) {
            try await channel.declareQueue(Broker.unique(), passive: true)
        }
        #expect(error.code == .channelClosedByBroker)
        #expect(error.replyCode == .notFound)
        #expect(error.method == .queueDeclare)
        #expect(error.replyText?.contains("NOT_FOUND") == true)
        #expect(!channel.isOpen)
        let after = try #require(throws: AMQPError.self) { try channel.ack(deliveryTag: 1) }
        // Refused, with why the channel is gone.
        #expect(after.code == .channelClosedByBroker && after.replyCode == .notFound)
        // The connection is unaffected.
        let other = try await connection.openChannel()
        try await other.declareQueue(exclusive: true)
        #expect(connection.isOpen)
        try await connection.close()
    }

    @Test func redeclaringWithOtherPropertiesIs406() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let name = Broker.unique()
        try await channel.declareQueue(name, autoDelete: true)
        let error = try await #require(throws: AMQPError.self) { try await channel.declareQueue(name, durable: true) }
        #expect(error.replyCode == .preconditionFailed)
        try await connection.close()
    }

    @Test func reservedExchangeNameIs403() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let error = try await #require(throws: AMQPError.self) {
            try await channel.declareExchange("amq.\(Broker.unique())")
        }
        #expect(error.code == .channelClosedByBroker)
        #expect(error.replyCode == .accessRefused)
        #expect(error.method == .exchangeDeclare)
        try await connection.close()
    }

    @Test func exclusiveQueueOfAnotherConnectionIs405() async throws {
        let owner = try await Broker.connect()
        let other = try await Broker.connect()
        let queue = try await owner.openChannel().declareQueue(exclusive: true).name
        let error = try await #require(throws: AMQPError.self) {
            try await other.openChannel().consume(queue: queue)
        }
        #expect(error.replyCode == .resourceLocked)
        try await owner.close()
        try await other.close()
    }

    @Test func pendingCallsOnAClosedChannelFailButOthersGoOn() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        // Two requests in flight at once: the one for a missing queue closes the channel; the other
        // either got its answer first or fails with the channel, never hangs.
        async let a = Result(catching: { try await channel.declareQueue(Broker.unique(), passive: true) })
        async let b = Result(catching: { try await channel.declareQueue(queue, passive: true) })
        let (ra, rb) = await (a, b)
        #expect(throws: AMQPError.self) { try ra.get() }
        if case .failure(let error) = rb {
            let code = (error as? AMQPError)?.code
            #expect(code == .channelClosedByBroker || code == .channelClosed)
        }
        let good = try await connection.openChannel()
        #expect(try await good.declareQueue(queue, passive: true).name == queue)
        try await connection.close()
    }

    @Test func nameLongerThan255BytesIsRejectedBeforeSending() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let error = try await #require(throws: AMQPError.self) {
            try await channel.declareQueue(String(repeating: "q", count: 256))
        }
        #expect(error.code == .invalidArgument)
        #expect(channel.isOpen)
        try await channel.declareQueue(String(repeating: "q", count: 255), exclusive: true)
        try await connection.close()
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
