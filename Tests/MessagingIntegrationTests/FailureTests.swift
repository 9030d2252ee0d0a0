import AMQPWire
import Foundation
import Messaging
import Synchronization
import Testing

@Suite struct FailureTests {
    static let fastRetry = RetryPolicy(immediateRetries: 1, delays: [.milliseconds(100), .milliseconds(200)])

    /// Takes the one message from `queue`, waiting for it to arrive.
    static func take(from queue: String, connection: AMQPConnection) async throws -> AMQPDelivery {
        let channel = try await connection.openChannel()
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let message = try await channel.get(queue: queue, noAck: true) { return message }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("nothing arrived in \(queue)")
        throw Inbox<Int>.TimedOut()
    }

    /// A service named `name` handling `Ping` with `handler` (quick retries unless `retry` says
    /// otherwise), running and consuming its queue.
    static func runPingService(
        _ name: String, connection: AMQPConnection, retry: RetryPolicy = fastRetry,
        _ handler: @escaping @Sendable (Ping, MessageContext) async throws -> Void
    ) async throws -> Task<Void, any Error> {
        let service = try await MessagingService.start(
            connection: connection, configuration: .init(name: name, retry: retry), logger: MemoryLog().logger)
        service.handle(Ping.self, handler: handler)
        let running = launch(service)
        try await waitForConsumer(on: name, connection: connection)
        return running
    }

    @Test func aHandlerThatAlwaysFailsEndsInTheErrorQueueWithWhy() async throws {
        let name = TestBroker.unique("fail")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let attempts = Inbox<Int>()
            let lastAttempts = Inbox<Int>()
            let running = try await Self.runPingService(name, connection: connection) { _, context in
                attempts.add(context.attempt)
                if context.isLastAttempt { lastAttempts.add(context.attempt) }
                throw Boom()
            }
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            let metadata = MessageMetadata(messageType: Ping.messageType)
            try await sender.send(Ping(text: "doomed", number: 1), metadata: metadata)

            let failed = try await Self.take(from: Topology.errorQueue(for: name), connection: connection)
            // (1 + 1 immediate retry) × (1 + 2 delayed rounds)
            #expect(attempts.values == [1, 2, 3, 4, 5, 6])
            #expect(lastAttempts.values == [6])
            let headers = try #require(failed.properties.headers)
            #expect(headers[FailureHeaders.attempts]?.intValue == 6)
            #expect(headers[FailureHeaders.delayedAttempts]?.intValue == 2)
            #expect(headers[FailureHeaders.errorMessage]?.stringValue == "boom")
            #expect(headers[FailureHeaders.errorType]?.stringValue?.hasSuffix("Boom") == true)
            #expect(headers[FailureHeaders.originalQueue]?.stringValue == name)
            #expect(headers[FailureHeaders.originalExchange]?.stringValue == "")
            #expect(headers[FailureHeaders.originalRoutingKey]?.stringValue == name)
            #expect(headers[FailureHeaders.firstFailedAt]?.stringValue != nil)
            #expect(headers[FailureHeaders.failedAt]?.stringValue != nil)
            // Kept whole: the same body, id and type.
            #expect(failed.properties.messageID == metadata.messageID)
            #expect(failed.properties.type == Ping.messageType)
            #expect(try JSONDecoder().decode(Ping.self, from: Data(failed.body)) == Ping(text: "doomed", number: 1))
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    /// Count headers come from the network. x-attempts at Int64.max made `attempts += 1` overflow
    /// (a crash of the whole consuming process); a negative x-delayed-attempts indexed the retry
    /// delays with it. Now they are clamped: the message is retried and parked as usual.
    @Test func impossibleCountHeadersAreClampedNotFatal() async throws {
        let name = TestBroker.unique("counts")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let attempts = Inbox<Int>()
            let running = try await Self.runPingService(name, connection: connection) { _, context in
                attempts.add(context.attempt)
                throw Boom()
            }
            let channel = try await connection.openChannel()
            try await channel.publish(
                #"{"text":"odd","number":1}"#, routingKey: name,
                properties: BasicProperties(
                    contentType: "application/json",
                    headers: [FailureHeaders.attempts: .int64(.max), FailureHeaders.delayedAttempts: .int64(-5)],
                    messageID: "m1", type: Ping.messageType))

            let failed = try await Self.take(from: Topology.errorQueue(for: name), connection: connection)
            #expect(attempts.values.count == 6, "\(attempts.values)")
            #expect(failed.properties.headers?[FailureHeaders.delayedAttempts]?.intValue == 2)
            // Capped when read, in each of the three rounds; the last round's two attempts added.
            #expect(failed.properties.headers?[FailureHeaders.attempts]?.intValue == (1 << 30) + 2)
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    @Test func aDelayedRetrySucceedsAndIsMarkedAsARedelivery() async throws {
        let name = TestBroker.unique("retry")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let seen = Inbox<MessageContext>()
            let running = try await Self.runPingService(name, connection: connection) { _, context in
                seen.add(context)
                // Fails both immediate attempts of the first round, succeeds after the delay.
                if context.attempt <= 2 { throw Boom() }
            }
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            try await sender.send(Ping(text: "flaky", number: 1))
            let contexts = try await seen.wait(for: 3)
            #expect(contexts.map(\.attempt) == [1, 2, 3])
            #expect(contexts.map(\.isRedelivery) == [false, true, true])
            #expect(Set(contexts.map(\.metadata.messageID)).count == 1)
            running.cancel()
            try await running.value
            let channel = try await connection.openChannel()
            #expect(try await channel.declareQueue(Topology.errorQueue(for: name), passive: true).messageCount == 0)
            try await connection.close()
        }
    }

    @Test func aPermanentFailureSkipsTheRetries() async throws {
        let name = TestBroker.unique("permanent")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let attempts = Inbox<Int>()
            let running = try await Self.runPingService(name, connection: connection) { _, context in
                attempts.add(context.attempt)
                throw Rejected("recipient is not an address")
            }
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            try await sender.send(Ping(text: "bad", number: 1))
            let failed = try await Self.take(from: Topology.errorQueue(for: name), connection: connection)
            #expect(attempts.values == [1])
            #expect(
                failed.properties.headers?[FailureHeaders.errorMessage]?.stringValue == "recipient is not an address")
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    @Test func anUndecodableBodyOrAnUnknownTypeGoesToTheErrorQueueAtOnce() async throws {
        let name = TestBroker.unique("garbage")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let handled = Inbox<Ping>()
            let running = try await Self.runPingService(name, connection: connection) { ping, _ in handled.add(ping) }
            let channel = try await connection.openChannel()
            try await channel.publish(
                "{not json", routingKey: name,
                properties: BasicProperties(contentType: "application/json", messageID: "m1", type: Ping.messageType))
            let first = try await Self.take(from: Topology.errorQueue(for: name), connection: connection)
            #expect(first.properties.messageID == "m1")
            #expect(first.bodyString == "{not json")
            #expect(first.properties.headers?[FailureHeaders.attempts]?.intValue == 1)
            #expect(
                first.properties.headers?[FailureHeaders.errorMessage]?.stringValue?.contains("not a valid") == true)

            try await channel.publish(
                "{}", routingKey: name,
                properties: BasicProperties(contentType: "application/json", messageID: "m2", type: "test.unknown.v9"))
            let second = try await Self.take(from: Topology.errorQueue(for: name), connection: connection)
            #expect(second.properties.messageID == "m2")
            #expect(second.properties.headers?[FailureHeaders.attempts]?.intValue == 0)
            #expect(
                second.properties.headers?[FailureHeaders.errorMessage]?.stringValue?.contains("test.unknown.v9")
                    == true)
            #expect(handled.values.isEmpty)
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    @Test func replayMovesErrorQueueMessagesBackForAnotherTry() async throws {
        let name = TestBroker.unique("replay")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let fixed = SwitchFlag()
            let handled = Inbox<Int>()
            let running = try await Self.runPingService(name, connection: connection, retry: .none) { ping, _ in
                guard fixed.isOn else { throw Boom() }
                handled.add(ping.number)
            }
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            for number in 0..<3 { try await sender.send(Ping(text: "later", number: number)) }
            let errorQueue = Topology.errorQueue(for: name)
            let channel = try await connection.openChannel()
            let deadline = ContinuousClock.now + .seconds(20)
            while try await channel.declareQueue(errorQueue, passive: true).messageCount < 3,
                ContinuousClock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(50))
            }
            fixed.turnOn()
            let result = try await ErrorQueue.replay(errorQueue, connection: connection)
            #expect(result == .init(replayed: 3, skipped: 0))
            #expect(Set(try await handled.wait(for: 3)) == [0, 1, 2])
            #expect(try await channel.declareQueue(errorQueue, passive: true).messageCount == 0)
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }
}

final class SwitchFlag: Sendable {
    private let on = Synchronization.Atomic<Bool>(false)
    var isOn: Bool { on.load(ordering: .acquiring) }
    func turnOn() { on.store(true, ordering: .releasing) }
}
