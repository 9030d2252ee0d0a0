import AMQPWire
import Foundation
import Testing

/// Failover in a three-node RabbitMQ cluster on this machine (scripts/cluster.sh, started by
/// scripts/test.sh): a quorum queue, a producer publishing with confirms and a consumer acking, both
/// given all three nodes as endpoints. The node they are connected to is killed (kill -9) mid-stream.
/// Isolated: it kills a node, and restarts it before it ends.
@Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct IsolatedClusterFailoverTests {
    /// Both connections recover on a surviving node; every message id is checked: no confirmed
    /// message is lost, and duplicates (publishes whose outcome the kill left unknown are published
    /// again; deliveries whose ack it lost are delivered again) are counted and reported.
    @Test func killingTheNodeUnderAProducerAndAConsumerLosesNoConfirmedMessage() async throws {
        let nodes = try Cluster.nodes
        let queue = Broker.unique("failover")
        let producerName = Broker.unique("failover-producer")
        let consumerName = Broker.unique("failover-consumer")
        func configuration(_ name: String) throws -> AMQPConnectionConfiguration {
            var config = try Cluster.configuration
            config.connectionName = name
            config.connectionTimeout = .seconds(5)
            config.recovery.initialDelay = .milliseconds(100)
            config.recovery.maximumDelay = .seconds(1)
            return config
        }
        let producer = try await AMQPConnection.connect(configuration(producerName))
        let consumerConnection = try await AMQPConnection.connect(configuration(consumerName))
        let producerLog = ConnectionEventLog(producer)
        let consumerLog = ConnectionEventLog(consumerConnection)
        let control = try await producer.openChannel()
        try await control.declareQueue(queue, durable: true, arguments: ["x-queue-type": "quorum"])
        let ledger = MessageLedger()
        let consumer = LedgerConsumer(
            try await consumerConnection.openChannel().consume(queue: queue, bufferCapacity: 200), ledger: ledger)
        let publisher = LedgerPublisher(producer, queue: queue, ledger: ledger, atLeastOnce: true)

        // The endpoints are tried in order: both are on node 1, which holds the queue's leader too.
        let victim = try await Cluster.nodeOf(connectionNamed: producerName)
        #expect(try await Cluster.nodeOf(connectionNamed: consumerName) == victim)
        #expect(victim == nodes[0])
        try await waitUntil(.seconds(30), "1000 messages consumed before the kill") { ledger.consumedCount >= 1000 }
        let consumedBefore = ledger.consumedCount
        let confirmedBefore = ledger.confirmed.count

        let killedAt = ContinuousClock.now
        try await withCleanup {
            try await Cluster.kill(victim)
            try await producerLog.waitForRecovered(count: 1, within: .seconds(60))
            try await consumerLog.waitForRecovered(count: 1, within: .seconds(60))
            let consumedAtRecovery = ledger.consumedCount
            try await waitUntil(.seconds(30), "1000 messages consumed after the recovery") {
                ledger.consumedCount >= consumedAtRecovery + 1000
            }
            try await publisher.stop()
            try await waitUntil(.seconds(30), "every confirmed message to be consumed") {
                ledger.lostConfirmed.isEmpty
            }
        } cleanup: {
            // Later runs expect three nodes; the kill left two.
            do {
                try await Cluster.restart(victim)
            } catch {
                Issue.record("could not restart \(victim): \(error)")
            }
        }

        let producerRecovered = try #require(producerLog.recoveredAt(1))
        let consumerRecovered = try #require(consumerLog.recoveredAt(1))
        let consumingAgain = try #require(ledger.firstConsumed(after: consumerRecovered))
        let survivor = try await Cluster.nodeOf(connectionNamed: producerName)
        #expect(survivor != victim)
        #expect(try await Cluster.nodeOf(connectionNamed: consumerName) != victim)
        #expect(ledger.lostConfirmed.isEmpty, "confirmed but never consumed: \(ledger.lostConfirmed.sorted())")
        #expect(ledger.otherFailures.isEmpty, "publishes failed otherwise: \(ledger.otherFailures)")
        #expect(publisher.failure == nil, "the publisher failed: \(String(describing: publisher.failure))")
        #expect(!consumer.hasEnded, "the consumer sequence ended: \(String(describing: consumer.failure))")
        #expect(producerLog.recoveryFailures.isEmpty && consumerLog.recoveryFailures.isEmpty)

        let confirmed = ledger.confirmed.count
        let consumedDistinct = ledger.consumedIDs.count
        reportFigure(
            "cluster failover",
            "killed \(victim) (producer, consumer and the quorum queue's leader) after \(confirmedBefore) "
                + "confirmed and \(consumedBefore) consumed; the producer recovered on \(survivor) "
                + "\((producerRecovered - killedAt).seconds) after the kill (\(producerLog.recoveryAttempts.first ?? 0) "
                + "attempts), the consumer \((consumerRecovered - killedAt).seconds) after it, and deliveries "
                + "resumed \((consumingAgain - killedAt).seconds) after it")
        reportFigure(
            "cluster failover messages",
            "\(confirmed) confirmed, \(consumedDistinct) distinct consumed, "
                + "\(ledger.lostConfirmed.count) confirmed lost; \(ledger.unknown.count) publishes left unknown by "
                + "the kill, \(ledger.nacked.count) nacked (the producer moved to a new channel "
                + "\(publisher.channelsReopened) times), \(publisher.republished) published again; "
                + "\(ledger.consumedCount) deliveries, "
                + "\(ledger.duplicates) duplicates; \(ledger.staleAcks) acks refused as stale")

        consumer.stop()
        try await control.deleteQueue(queue)
        try await producer.close()
        try await consumerConnection.close()
    }
}
