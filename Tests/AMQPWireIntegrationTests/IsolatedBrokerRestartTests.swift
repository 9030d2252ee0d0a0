import AMQPWire
import Foundation
import Testing

/// The broker goes away under a connection with a consumer and a confirming publisher, and comes
/// back: `rabbitmqctl stop_app` / `start_app` (a clean shutdown: the broker closes its connections),
/// and kill -9 of its Erlang VM then a restart (a crash: the sockets are reset). The connection must
/// recover by itself, publishes left unconfirmed must fail with `confirmOutcomeUnknown`, the consumer
/// must go on delivering on the same sequence, and no confirmed message may be lost (persistent
/// messages on a durable queue). Runs against the fault broker, a node of its own: never the shared
/// one. Isolated: it takes a broker down.
@Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct IsolatedBrokerRestartTests {
    enum Fault: String, CustomStringConvertible {
        case stopApp = "stop_app/start_app"
        case kill = "kill -9/restart"
        var description: String { rawValue }
    }

    @Test func connectionRecoversFromStopAppAndStartApp() async throws {
        try await survive(.stopApp)
    }

    @Test func connectionRecoversFromABrokerKilledAndRestarted() async throws {
        try await survive(.kill)
    }

    private func survive(_ fault: Fault) async throws {
        var config = try FaultBroker.configuration
        config.recovery.initialDelay = .milliseconds(100)
        config.recovery.maximumDelay = .seconds(1)
        let connection = try await AMQPConnection.connect(config)
        let log = ConnectionEventLog(connection)
        let queue = Broker.unique("restart")
        let control = try await connection.openChannel()
        try await control.declareQueue(queue, durable: true)
        let ledger = MessageLedger()
        let consumer = LedgerConsumer(try await connection.openChannel().consume(queue: queue), ledger: ledger)
        let publisher = LedgerPublisher(connection, queue: queue, ledger: ledger)

        try await waitUntil(.seconds(20), "300 messages consumed before the fault") { ledger.consumedCount >= 300 }
        let consumedBefore = ledger.consumedCount
        let faultAt = ContinuousClock.now
        var backAt = faultAt
        var restored = false
        try await withCleanup {
            switch fault {
            case .stopApp:
                try await FaultBroker.ctl("stop_app")
                try await waitUntil(.seconds(10), "the connection to notice") { log.recoveringCount > 0 }
                // Down for a while: recovery's attempts are refused meanwhile.
                try await Task.sleep(for: .seconds(1))
                try await FaultBroker.ctl("start_app")
            case .kill:
                try await FaultBroker.kill()
                try await waitUntil(.seconds(10), "the connection to notice") { log.recoveringCount > 0 }
                try await FaultBroker.restart()
            }
            restored = true
            backAt = .now
        } cleanup: {
            // Later tests need the broker up, whatever failed here.
            if !restored {
                switch fault {
                case .stopApp: _ = try? await FaultBroker.ctl("start_app")
                case .kill: try? await FaultBroker.restart()
                }
            }
        }
        try await log.waitForRecovered(count: 1, within: .seconds(30))
        let recoveredAt = try #require(log.recoveredAt(1))
        let consumedAtRecovery = ledger.consumedCount
        try await waitUntil(.seconds(20), "300 messages consumed after the recovery") {
            ledger.consumedCount >= consumedAtRecovery + 300
        }
        try await publisher.stop()
        try await waitUntil(.seconds(20), "every confirmed message to be consumed") { ledger.lostConfirmed.isEmpty }

        let cause = try #require(log.recoveringCauses.first)
        switch fault {
        case .stopApp:
            #expect(cause.code == .connectionClosedByBroker && cause.replyCode == .connectionForced, "\(cause)")
        case .kill: #expect(cause.code == .ioError, "\(cause)")
        }
        #expect(log.recoveredCount == 1, "one recovery")
        #expect(ledger.lostConfirmed.isEmpty, "confirmed but never consumed: \(ledger.lostConfirmed.sorted())")
        #expect(
            ledger.nacked.isEmpty && ledger.otherFailures.isEmpty, "publishes failed otherwise: \(ledger.otherFailures)"
        )
        #expect(publisher.failure == nil, "the publisher failed: \(String(describing: publisher.failure))")
        #expect(!consumer.hasEnded, "the consumer sequence ended: \(String(describing: consumer.failure))")
        reportFigure(
            "broker \(fault)",
            "\(consumedBefore) deliveries before the fault (cause \(cause.code)); the connection recovered "
                + "\((recoveredAt - faultAt).seconds) after the fault, in \(log.recoveryAttempts.first ?? 0) attempts "
                + "(\(fault == .stopApp ? "start_app" : "the restart script") returned \((backAt - faultAt).seconds) after the fault)"
        )
        ledger.report("broker \(fault) messages")

        consumer.stop()
        try await control.deleteQueue(queue)
        try await connection.close()
    }
}
