import AMQPWire
import Foundation
import ServiceTestSupport
import Testing

/// Automatic recovery against the real broker: connections closed by `rabbitmqctl
/// close_connection` (a broker-initiated close), which affects only the connection named.
@Suite(.timeLimit(.minutes(2)), .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct RecoveryIntegrationTests {
    /// Quick retries, and a name to find the connection by.
    static func connect(
        name: String, _ adjust: (inout AMQPConnectionConfiguration) -> Void = { _ in }
    ) async throws -> AMQPConnection {
        try await Broker.connect {
            $0.connectionName = name
            $0.recovery.initialDelay = .milliseconds(50)
            $0.recovery.maximumDelay = .milliseconds(500)
            adjust(&$0)
        }
    }

    /// The next event (the suite's time limit bounds the wait).
    static func next(_ events: inout BroadcastSubscription<AMQPConnectionEvent>.AsyncIterator) async throws
        -> AMQPConnectionEvent
    {
        guard let event = await events.next() else { throw RecoveryTestFailure("the events ended") }
        return event
    }

    @Test func brokerCloseRecoversChannelsTopologyAndConsumers() async throws {
        let name = Broker.unique("recover-all")
        let connection = try await Self.connect(name: name)
        var events = connection.events().makeAsyncIterator()
        let channel = try await connection.openChannel()
        let exchange = Broker.unique("recover-ex")
        try await channel.declareExchange(exchange, type: .fanout)
        let queue = try await channel.declareQueue(exclusive: true).name  // server-named: renamed on recovery
        try await channel.bindQueue(queue, to: exchange)
        try await channel.enablePublisherConfirms()
        let consumer = try await channel.consume(queue: queue)
        var deliveries = consumer.makeAsyncIterator()
        try await channel.publish("before", exchange: exchange, routingKey: "").wait()
        let before = try #require(try await deliveries.next())
        #expect(before.bodyString == "before")
        try before.ack()
        #expect(connection.failureCount == 0)

        try await BrokerControl.closeConnection(named: name, reason: "recovery test")
        guard case .recovering(let cause) = try await Self.next(&events) else {
            Issue.record("expected recovering")
            return
        }
        #expect(cause.replyCode == .connectionForced)
        #expect(connection.failureCount == 1, "counted before the event was published")
        guard case .queueRenamed(let old, let new) = try await Self.next(&events) else {
            Issue.record("expected the server-named queue to be renamed")
            return
        }
        #expect(old == queue && new != queue)
        guard case .recovered = try await Self.next(&events) else {
            Issue.record("expected recovered")
            return
        }
        #expect(connection.isOpen && channel.isOpen)

        // The same channel, in confirm mode again (numbered from 1), routes through the restored
        // exchange and binding to the restored consumer on the renamed queue.
        let confirmation = try await channel.publish("after", exchange: exchange, routingKey: "")
        #expect(confirmation.sequenceNumber == 1)
        try await confirmation.wait()
        let after = try #require(try await deliveries.next())
        #expect(after.bodyString == "after")
        #expect(after.deliveryTag > before.deliveryTag, "delivery tags keep growing across a recovery")
        try after.ack()
        try await channel.deleteExchange(exchange)
        try await connection.close()
    }

    @Test func ackForADeliveryFromTheDeadConnectionIsRefusedAndTheMessageComesBack() async throws {
        let name = Broker.unique("recover-stale")
        let connection = try await Self.connect(name: name)
        var events = connection.events().makeAsyncIterator()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(Broker.unique("stale-q"), autoDelete: false).name
        let consumer = try await channel.consume(queue: queue)
        var deliveries = consumer.makeAsyncIterator()
        try await channel.publish("once", routingKey: queue)
        let first = try #require(try await deliveries.next())
        #expect(!first.redelivered)

        try await BrokerControl.closeConnection(named: name, reason: "recovery test")
        while true {
            if case .recovered = try await Self.next(&events) { break }
        }
        let error = try #require(throws: AMQPError.self) { try first.ack() }
        #expect(error.code == .staleDeliveryTag)
        let byTag = try #require(throws: AMQPError.self) { try channel.ack(deliveryTag: first.deliveryTag) }
        #expect(byTag.code == .staleDeliveryTag)
        // The broker requeued it, and it is delivered again on the new connection.
        let again = try #require(try await deliveries.next())
        #expect(again.bodyString == "once" && again.redelivered)
        try again.ack()
        try await channel.deleteQueue(queue)
        try await connection.close()
    }

    @Test func anEntityThatCannotBeRestoredIsReportedAndTheRestRecovers() async throws {
        let name = Broker.unique("recover-partial")
        let connection = try await Self.connect(name: name)
        var events = connection.events().makeAsyncIterator()
        let channel = try await connection.openChannel()
        let clashing = Broker.unique("clash-ex")
        let queue = Broker.unique("partial-q")
        try await channel.declareExchange(clashing, type: .direct)
        try await channel.declareQueue(queue, autoDelete: false)
        // Someone else replaces the exchange with another type: redeclaring ours will be refused.
        let other = try await Broker.connect()
        let otherChannel = try await other.openChannel()
        try await otherChannel.deleteExchange(clashing)
        try await otherChannel.declareExchange(clashing, type: .fanout)
        try await otherChannel.deleteQueue(queue)

        try await BrokerControl.closeConnection(named: name, reason: "recovery test")
        var failed: [RecordedEntity] = []
        loop: while true {
            switch try await Self.next(&events) {
            case .topologyRecoveryFailed(let entity, let error):
                #expect(error.replyCode == .preconditionFailed)
                failed.append(entity)
            case .recovered: break loop
            case .recoveryFailed(let error): throw error
            default: continue
            }
        }
        #expect(failed.count == 1)
        if case .exchange(let exchange)? = failed.first { #expect(exchange.name == clashing) }
        // The queue after the refused exchange was restored all the same.
        #expect(try await otherChannel.declareQueue(queue, passive: true).name == queue)
        try await otherChannel.deleteQueue(queue)
        try await otherChannel.deleteExchange(clashing)
        try await other.close()
        try await connection.close()
    }

    @Test func filteredEntitiesAreLeftOut() async throws {
        let name = Broker.unique("recover-filter")
        let skipped = Broker.unique("skipped-q")
        let connection = try await Self.connect(name: name) {
            $0.recovery.topologyFilter = { entity in
                if case .queue(let q) = entity { return q.name != skipped }
                return true
            }
        }
        var events = connection.events().makeAsyncIterator()
        let channel = try await connection.openChannel()
        try await channel.declareQueue(skipped, autoDelete: false)
        let other = try await Broker.connect()
        let otherChannel = try await other.openChannel()
        try await otherChannel.deleteQueue(skipped)

        try await BrokerControl.closeConnection(named: name, reason: "recovery test")
        while true {
            if case .recovered = try await Self.next(&events) { break }
        }
        let error = try await #require(throws: AMQPError.self) {
            try await other.openChannel().declareQueue(skipped, passive: true)
        }
        #expect(error.replyCode == .notFound)
        try await other.close()
        try await connection.close()
    }

    @Test func refusedCredentialsEndTheRecovery() async throws {
        let user = Broker.unique("recovery-user")
        try await BrokerControl.ctl("add_user", user, "first-password")
        try await withCleanup {
            try await BrokerControl.ctl("set_permissions", user, ".*", ".*", ".*")
            let name = Broker.unique("recover-auth")
            let connection = try await Self.connect(name: name) {
                $0.username = user
                $0.password = "first-password"
            }
            var events = connection.events().makeAsyncIterator()
            let channel = try await connection.openChannel()
            let consumer = try await channel.consume(queue: try await channel.declareQueue(exclusive: true).name)
            try await BrokerControl.ctl("change_password", user, "second-password")
            try await BrokerControl.closeConnection(named: name, reason: "recovery test")
            var failure: AMQPError?
            loop: while true {
                switch try await Self.next(&events) {
                case .recoveryFailed(let error): failure = error
                case .closed: break loop
                case .recovered: Issue.record("recovered with a changed password")
                default: continue
                }
            }
            #expect(failure?.code == .authenticationFailed)
            #expect(connection.closeReason?.code == .authenticationFailed)
            var iterator = consumer.makeAsyncIterator()
            let ended = try await #require(throws: AMQPError.self) { _ = try await iterator.next() }
            #expect(ended.code == .authenticationFailed)
        } cleanup: {
            _ = try? await BrokerControl.ctl("delete_user", user)
        }
    }

    @Test func closingDuringRecoveryStopsIt() async throws {
        // Slow retries, so the close usually lands while recovery waits; but the backoff has full
        // jitter and may retry at once, so a recovery that already finished means: try again.
        for _ in 0..<8 {
            let name = Broker.unique("recover-close")
            let connection = try await Self.connect(name: name) { $0.recovery.initialDelay = .seconds(5) }
            var events = connection.events().makeAsyncIterator()
            _ = try await connection.openChannel()
            try await BrokerControl.closeConnection(named: name, reason: "recovery test")
            guard case .recovering = try await Self.next(&events) else {
                Issue.record("expected recovering")
                return
            }
            let waiting = Task { try await connection.openChannel() }
            guard connection.isRecovering else {
                _ = try? await waiting.value
                try await connection.close()
                continue
            }
            try await connection.close()
            if let error = await #expect(throws: AMQPError.self, performing: { _ = try await waiting.value }) {
                #expect(error.code == .connectionClosed)
            }
            // Events up to the close (a failed recovery attempt may come first).
            while true {
                let event = try await Self.next(&events)
                if case .closed(let error) = event {
                    #expect(error == nil)
                    break
                }
            }
            #expect(!connection.isRecovering && !connection.isOpen)
            return
        }
        Issue.record("recovery finished before the close every time")
    }
}

struct RecoveryTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
