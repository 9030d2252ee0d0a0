import AMQPWire
import Foundation
import Testing

/// A link that goes silent (a dead peer behind a firewall: nothing moves, nothing is closed), made by
/// the test proxy. Heartbeats must find it out and recovery must get round it; a silent handshake
/// must end in a connect time-out. Isolated: one-second heartbeats, which a busy machine could starve.
@Suite(.serialized, .timeLimit(.minutes(2)), .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct IsolatedFrozenLinkTests {
    /// The shared test broker behind `proxy`, with one-second heartbeats and quick retries.
    static func configuration(through proxy: TCPProxy) throws -> AMQPConnectionConfiguration {
        var config = try Broker.configuration
        config.endpoints = [.init(host: "127.0.0.1", port: proxy.port)]
        config.heartbeat = 1
        config.connectionTimeout = .seconds(2)
        config.recovery.initialDelay = .milliseconds(50)
        config.recovery.maximumDelay = .milliseconds(500)
        return config
    }

    /// A consumer and a confirming publisher on a link that freezes: heartbeats declare it dead, the
    /// publish in flight fails with `confirmOutcomeUnknown`, the connection recovers on a new link,
    /// and the message published again arrives on the same consumer sequence.
    @Test func frozenLinkIsDetectedByHeartbeatsAndRecovered() async throws {
        let proxy = try TCPProxy.forBroker()
        defer { proxy.stop() }
        let connection = try await AMQPConnection.connect(Self.configuration(through: proxy))
        let log = ConnectionEventLog(connection)
        let queue = Broker.unique("frozen")
        let publisher = try await connection.openChannel()
        try await publisher.enablePublisherConfirms()
        try await publisher.declareQueue(queue, autoDelete: false)
        let ledger = MessageLedger()
        let consumer = LedgerConsumer(try await connection.openChannel().consume(queue: queue), ledger: ledger)
        try await publisher.publish("0", routingKey: queue).wait()
        try await waitUntil(.seconds(10), "message 0 to be consumed") { ledger.timesConsumed(0) > 0 }

        let frozenAt = ContinuousClock.now
        #expect(proxy.freezeExisting() == 1)
        let inFlight = try await publisher.publish("1", routingKey: queue)
        let outcome = try await withDeadline(.seconds(15), "the frozen publish's outcome") {
            () async -> Result<Void, AMQPError> in
            do { return .success(try await inFlight.wait()) } catch let error as AMQPError {
                return .failure(error)
            } catch {
                return .failure(AMQPError(.ioError, "\(error)"))
            }
        }
        guard case .failure(let failure) = outcome else {
            Issue.record("a publish on a frozen link was confirmed")
            return
        }
        #expect(failure.code == .confirmOutcomeUnknown)
        try await log.waitForRecovered(count: 1, within: .seconds(15))
        let detected = try #require(log.all.first { if case .recovering = $0.event { true } else { false } })
        #expect(log.recoveringCauses.first?.code == .heartbeatTimeout)
        let recoveredAt = try #require(log.recoveredAt(1))

        try await publisher.publish("1", routingKey: queue).wait()
        try await publisher.publish("2", routingKey: queue).wait()
        try await waitUntil(.seconds(10), "messages 1 and 2 to be consumed") {
            ledger.timesConsumed(1) > 0 && ledger.timesConsumed(2) > 0
        }
        #expect(!consumer.hasEnded, "the consumer sequence ended: \(String(describing: consumer.failure))")
        reportFigure(
            "frozen link",
            "heartbeat 1 s: dead link detected after \((detected.at - frozenAt).seconds), recovered "
                + "\((recoveredAt - frozenAt).seconds) after the freeze (recovery itself "
                + "\((log.recoveryDurations.first ?? .zero).seconds)); the publish in flight failed with "
                + "\(failure.code), published again and consumed")
        consumer.stop()
        try await publisher.deleteQueue(queue)
        try await connection.close()
    }

    /// The link freezes and so does every new one: recovery's attempts end in connect time-outs and
    /// it keeps trying, with a publish waiting meanwhile; once the links thaw the connection recovers
    /// (the attempt under way completes) and the waiting publish goes out.
    @Test func recoveryRetriesFrozenLinksUntilTheyThaw() async throws {
        let proxy = try TCPProxy.forBroker()
        defer { proxy.stop() }
        let connection = try await AMQPConnection.connect(Self.configuration(through: proxy))
        let log = ConnectionEventLog(connection)
        let channel = try await connection.openChannel()
        try await channel.enablePublisherConfirms()
        let queue = try await channel.declareQueue(Broker.unique("thaw"), autoDelete: false).name

        let frozenAt = ContinuousClock.now
        proxy.setMode(.frozen)
        try await waitUntil(.seconds(10), "heartbeats to declare the link dead") { log.recoveringCount > 0 }
        // A first attempt on a frozen link, ended by the two-second connect time-out, and a second
        // one under way (it completes once the link thaws).
        try await waitUntil(.seconds(15), "two reconnection attempts") { proxy.acceptedConnections >= 3 }
        #expect(connection.isRecovering)
        let waiting = Task { try await channel.publish("after the thaw", routingKey: queue).wait() }
        try await Task.sleep(for: .milliseconds(100))
        let thawedAt = ContinuousClock.now
        proxy.setMode(.forward)
        try await log.waitForRecovered(count: 1, within: .seconds(15))
        try await withDeadline(.seconds(10), "the publish that waited for the recovery") { try await waiting.value }
        let recoveredAt = try #require(log.recoveredAt(1))
        let attempts = try #require(log.recoveryAttempts.first)
        #expect(attempts >= 2)
        #expect(log.recoveringCauses.first?.code == .heartbeatTimeout)
        let message = try #require(try await channel.get(queue: queue, noAck: true))
        #expect(message.bodyString == "after the thaw")
        reportFigure(
            "frozen reconnects",
            "\(attempts) attempts (those on frozen links ended by the 2 s connect time-out); recovered "
                + "\((recoveredAt - thawedAt).seconds) after the thaw, \((recoveredAt - frozenAt).seconds) after the freeze"
        )
        try await channel.deleteQueue(queue)
        try await connection.close()
    }

    /// A link that goes silent during the handshake (after 0 bytes, after the protocol header, inside
    /// connection.start, just before connection.open-ok) fails the connect with `connectTimeout`
    /// after the configured time-out: no hang.
    @Test(arguments: [0, 8, 300, -1])
    func frozenHandshakeEndsInAConnectTimeout(frozenAfter: Int) async throws {
        let proxy = try TCPProxy.forBroker()
        defer { proxy.stop() }
        var config = try Self.configuration(through: proxy)
        config.connectionTimeout = .seconds(1)
        var bytes = frozenAfter
        if bytes < 0 {
            // The handshake's length, less connection.open-ok (13 bytes with its empty reserved field).
            let probe = try await AMQPConnection.connect(config)
            bytes = try #require(proxy.newestConnectionBytes) - 13
            try await probe.close()
        }
        proxy.freezeNextConnection(afterBytes: bytes)
        let frozenConfig = config
        let started = ContinuousClock.now
        let error = try await withDeadline(.seconds(10), "connecting over a link frozen after \(bytes) bytes") {
            () async -> AMQPError? in
            do {
                let connection = try await AMQPConnection.connect(frozenConfig)
                try? await connection.close()
                return nil
            } catch {
                return error as? AMQPError ?? AMQPError(.ioError, "\(error)")
            }
        }
        let took = ContinuousClock.now - started
        #expect(error?.code == .connectTimeout, "frozen after \(bytes) bytes: \(String(describing: error))")
        #expect(took < .seconds(5))
        reportFigure(
            "frozen handshake",
            "frozen after \(bytes) bytes: \(error?.code.description ?? "connected") after \(took.seconds)")
    }
}
