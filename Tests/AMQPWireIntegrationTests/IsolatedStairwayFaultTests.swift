import AMQPWire
import Foundation
import Testing

/// The "stairway": a proxy between client and broker cuts the connection after N bytes, for every N
/// across the handshake and across a confirmed publish and its delivery. Each cut must end in a clean
/// error or a recovery, never a hang (every step has a deadline) or a crash. Isolated: hundreds of
/// connections in a row would load the machine under the timing-sensitive suites.
@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct IsolatedStairwayFaultTests {
    /// The shared test broker behind `proxy`, with quick retries. The connection name is fixed so that
    /// every handshake has the same length.
    static func configuration(through proxy: TCPProxy) throws -> AMQPConnectionConfiguration {
        var config = try Broker.configuration
        config.endpoints = [.init(host: "127.0.0.1", port: proxy.port)]
        config.connectionName = "stairway"
        config.connectionTimeout = .seconds(5)
        config.recovery.initialDelay = .milliseconds(5)
        config.recovery.maximumDelay = .milliseconds(100)
        return config
    }

    /// What the handshake stairway does once connected: a channel and a queue round trip, then a close.
    /// A call in flight when the link is cut fails with `ioError` (it may or may not have reached the
    /// broker); it is retried once the connection has recovered. Returns how many calls failed so.
    static func session(_ connection: AMQPConnection) async throws -> Int {
        var failedInFlight = 0
        func attempt<T>(_ call: () async throws -> T) async throws -> T {
            for _ in 0..<3 {
                do {
                    return try await call()
                } catch let error as AMQPError where error.code == .ioError {
                    failedInFlight += 1
                    try await waitUntil(.seconds(10), "the connection to recover") { connection.isOpen }
                }
            }
            return try await call()
        }
        let channel = try await attempt { try await connection.openChannel() }
        _ = try await attempt { try await channel.declareQueue(exclusive: true) }
        try await connection.close()
        return failedInFlight
    }

    /// For every N from 0 to the bytes of a whole session (handshake, channel.open, queue.declare,
    /// connection.close), the first connection is cut after N bytes. Before connection.open-ok has
    /// passed, connecting must fail with a clean error at once (not by time-out); after it, the
    /// connection recovers and the session completes on the second one.
    @Test func cutAtEveryByteOfTheHandshakeEndsInACleanErrorOrARecovery() async throws {
        let proxy = try TCPProxy.forBroker()
        defer { proxy.stop() }
        let config = try Self.configuration(through: proxy)

        // The stairway's length, measured through the proxy.
        let probe = try await AMQPConnection.connect(config)
        let handshake = try #require(proxy.newestConnectionBytes)
        let probeChannel = try await probe.openChannel()
        try await probeChannel.declareQueue(exclusive: true)
        try await probe.close()
        try await waitUntil(.seconds(5), "the probe's link to close") { proxy.openConnections == 0 }
        let session = proxy.totalBytes
        reportFigure("handshake stairway", "handshake \(handshake) bytes, whole session \(session) bytes")

        var failures: [String: Int] = [:]
        var recovered = 0
        var callsFailedInFlight = 0
        var closeCuts = 0
        var notCut = 0
        var slowest: (n: Int, time: Duration) = (0, .zero)
        let start = ContinuousClock.now
        for n in 0...session {
            proxy.cutNextConnection(afterBytes: n)
            let accepted = proxy.acceptedConnections
            let cutsBefore = proxy.limitCuts
            let began = ContinuousClock.now
            let outcome = try await withDeadline(.seconds(20), "a session cut after \(n) bytes") {
                () async throws -> Result<Int, AMQPError> in
                let connection: AMQPConnection
                do {
                    connection = try await AMQPConnection.connect(config)
                } catch let error as AMQPError {
                    return .failure(error)
                }
                return .success(try await Self.session(connection))
            }
            let took = ContinuousClock.now - began
            if took > slowest.time { slowest = (n, took) }
            let cut = proxy.limitCuts > cutsBefore
            switch outcome {
            case .failure(let failure):
                #expect(n < handshake, "connecting failed although the handshake had passed (cut after \(n))")
                #expect(cut, "connecting failed with no cut (cut after \(n)): \(failure)")
                #expect(failure.code != .connectTimeout, "a cut after \(n) bytes was noticed only by the time-out")
                failures[failure.code.description, default: 0] += 1
            case .success(let failedInFlight):
                #expect(n >= handshake, "connected although the handshake was cut after \(n) bytes")
                callsFailedInFlight += failedInFlight
                if !cut {
                    notCut += 1
                } else if proxy.acceptedConnections > accepted + 1 {
                    recovered += 1
                } else {
                    closeCuts += 1
                }
            }
            // The cut connection's thread is gone before the next step arms another cut.
            try await waitUntil(.seconds(5), "the links of step \(n) to close") { proxy.openConnections == 0 }
        }
        let elapsed = ContinuousClock.now - start
        let failed = failures.values.reduce(0, +)
        reportFigure(
            "handshake stairway",
            "\(session + 1) cut points (every byte 0...\(session)): \(failed) clean connect errors "
                + "\(failures.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), "
                + "\(recovered) cuts after the handshake recovered (\(callsFailedInFlight) calls in flight failed "
                + "with ioError and were retried), "
                + "\(closeCuts) cut during connection.close (it completes), \(notCut) not cut (nothing left to cut); "
                + "slowest step \(slowest.time.seconds) (cut after \(slowest.n)), whole stairway \(elapsed.seconds)")
        #expect(failed == handshake, "every cut inside the handshake fails the connect")
        #expect(recovered + closeCuts + notCut == session + 1 - handshake)
    }

    /// A connection with a confirming publisher and a consumer on one queue. For every N from 0 to
    /// the bytes of one cycle (basic.publish with its header and body, the confirm, basic.deliver
    /// with its content, the consumer's ack), the live link is cut after N more bytes, one message
    /// is published, and the test waits until it is consumed. A publish the cut leaves unconfirmed
    /// fails with `confirmOutcomeUnknown` and is published again; every message arrives on the same
    /// consumer sequence, at least once.
    @Test func cutAtEveryByteOfAConfirmedPublishAndItsDeliveryRecovers() async throws {
        let proxy = try TCPProxy.forBroker()
        defer { proxy.stop() }
        var config = try Self.configuration(through: proxy)
        config.connectionName = "stairway-publish"
        let queue = Broker.unique("stairway")
        let connection = try await AMQPConnection.connect(config)
        let log = ConnectionEventLog(connection)
        let publisher = try await connection.openChannel()
        try await publisher.enablePublisherConfirms()
        // Not exclusive: the queue outlives a cut link, and holds what the consumer did not ack.
        try await publisher.declareQueue(queue, autoDelete: false)
        let ledger = MessageLedger()
        let consumerChannel = try await connection.openChannel()
        let consumer = LedgerConsumer(try await consumerChannel.consume(queue: queue), ledger: ledger)

        /// Publishes `id` until confirmed, then waits until it is consumed. Returns whether the first
        /// publish's outcome was unknown.
        @Sendable func cycle(_ id: Int) async throws -> Bool {
            ledger.published(id)
            var unknown = false
            do {
                try await publisher.publish(String(id), routingKey: queue).wait()
                ledger.outcome(id, .success(()))
            } catch let error as AMQPError where error.code == .confirmOutcomeUnknown {
                ledger.outcome(id, .failure(error))
                unknown = true
                // On the recovered connection (publish waits for it), whose link is not armed.
                ledger.published(id)
                try await publisher.publish(String(id), routingKey: queue).wait()
                ledger.outcome(id, .success(()))
            }
            try await waitUntil(.seconds(15), "message \(id) to be consumed") { ledger.timesConsumed(id) > 0 }
            return unknown
        }

        // One cycle's bytes, measured: up to the consumer's ack, which follows the delivery.
        var mark = proxy.totalBytes
        _ = try await withDeadline(.seconds(15), "the measuring cycle") { try await cycle(0) }
        try await Self.waitUntilQuiet(proxy)
        let cycleBytes = proxy.totalBytes - mark

        var cuts = 0
        var unknownOutcomes = 0
        var slowest: (k: Int, time: Duration) = (0, .zero)
        let start = ContinuousClock.now
        for k in 0...cycleBytes {
            let id = k + 1
            let recoveredBefore = log.recoveredCount
            let cutsBefore = proxy.limitCuts
            mark = proxy.totalBytes
            #expect(proxy.cutExisting(afterMoreBytes: k) == 1, "one live link to arm (step \(k))")
            let began = ContinuousClock.now
            if try await withDeadline(
                .seconds(30), "a publish and delivery cut after \(k) bytes", { try await cycle(id) })
            {
                unknownOutcomes += 1
            }
            // The ack leaves after the delivery: wait until the cut fired or the whole cycle passed.
            try await waitUntil(.seconds(10), "the cut after \(k) bytes to fire or the cycle to pass") {
                proxy.limitCuts > cutsBefore || proxy.totalBytes - mark >= cycleBytes
            }
            if proxy.limitCuts > cutsBefore {
                cuts += 1
                try await log.waitForRecovered(count: recoveredBefore + 1, within: .seconds(15))
            } else {
                proxy.disarmExisting()
            }
            let took = ContinuousClock.now - began
            if took > slowest.time { slowest = (k, took) }
            if consumer.hasEnded {
                Issue.record(
                    "the consumer sequence ended at the cut after \(k) bytes: \(String(describing: consumer.failure))")
                break
            }
        }
        let elapsed = ContinuousClock.now - start
        // Redeliveries of messages whose ack was cut have arrived by now.
        try await Self.waitUntilQuiet(proxy)

        let ids = Set(0...cycleBytes + 1)
        #expect(ledger.consumedIDs == ids, "every message consumed at least once")
        #expect(ledger.lostConfirmed.isEmpty)
        #expect(ledger.otherFailures.isEmpty, "publishes failed otherwise: \(ledger.otherFailures)")
        #expect(!consumer.hasEnded, "the consumer sequence ended: \(String(describing: consumer.failure))")
        #expect(log.recoveredCount == cuts, "one recovery per cut")
        #expect(cuts >= cycleBytes, "every step but the last cuts the link")
        let durations = log.recoveryDurations
        let mean = durations.isEmpty ? .zero : durations.reduce(.zero, +) / durations.count
        reportFigure(
            "publish stairway",
            "one cycle (publish, confirm, deliver, ack) is \(cycleBytes) bytes; \(cycleBytes + 1) cut points "
                + "(every byte 0...\(cycleBytes)): \(cuts) cuts, \(log.recoveredCount) recoveries, "
                + "\(unknownOutcomes) publishes failed with confirmOutcomeUnknown and were published again, "
                + "\(ledger.duplicates) duplicate deliveries, \(ledger.staleAcks) acks refused as stale; "
                + "time to recover mean \(mean.seconds), max \((durations.max() ?? .zero).seconds); "
                + "slowest step \(slowest.time.seconds) (cut after \(slowest.k)), whole stairway \(elapsed.seconds)")
        ledger.report("publish stairway messages")

        consumer.stop()
        try await publisher.deleteQueue(queue)
        try await connection.close()
    }

    /// Waits until no byte has moved through the proxy for 200 ms.
    static func waitUntilQuiet(_ proxy: TCPProxy) async throws {
        var last = proxy.totalBytes
        var quietSince = ContinuousClock.now
        try await waitUntil(.seconds(10), "the link to go quiet") {
            let now = proxy.totalBytes
            if now != last {
                last = now
                quietSince = .now
            }
            return ContinuousClock.now - quietSince >= .milliseconds(200)
        }
    }
}
