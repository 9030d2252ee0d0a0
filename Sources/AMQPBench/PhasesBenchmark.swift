import AMQPWire
import BenchSupport
import Foundation
import Synchronization

/// The three phases ../shared/bench/compare runs for every client, done the same way.
final class PhasesBenchmark {
    let options: Options
    private var lastCPU = CPUTime.process()

    init(options: Options) { self.options = options }

    func run() async throws {
        let progress = PhaseProgress(total: options.messages)
        let reporter = Task { [options] in await progress.report(name: options.name, every: options.progressSeconds) }
        defer { reporter.cancel() }
        let connection = try await AMQPConnection.connect(options.configuration())
        let channel = try await connection.openChannel()
        let queue = options.queue
        try await channel.declareQueue(queue)
        try await channel.purgeQueue(queue)
        let body = [UInt8](repeating: 0, count: options.size)
        let n = options.messages

        // publish: clocked until the broker counts every message in the queue.
        lastCPU = CPUTime.process()
        var clock = Stopwatch()
        progress.start("publish")
        for _ in 0..<n {
            try await channel.publish(body, routingKey: queue)
            progress.advance()
        }
        // All written; the phase ends when the broker has them all. Progress now counts its queue.
        progress.rename("publish (in the queue)")
        while true {
            let inQueue = Int(try await channel.declareQueue(queue, passive: true).messageCount)
            progress.set(inQueue)
            if inQueue >= n { break }
            try await Task.sleep(for: .milliseconds(2))
        }
        progress.finish()
        report("publish", n, clock.seconds)

        // consume: prefetch, manual acks with multiple=true every few deliveries.
        try await channel.setPrefetch(count: options.prefetch)
        lastCPU = CPUTime.process()
        clock = Stopwatch()
        progress.start("consume")
        let consumer = try await channel.consume(queue: queue, bufferCapacity: max(Int(options.prefetch), 1024))
        var received = 0
        for try await delivery in consumer {
            received += 1
            progress.advance()
            if received % options.multiAckEvery == 0 || received == n { try delivery.ack(multiple: true) }
            if received == n { break }
        }
        progress.finish()
        report("consume", n, clock.seconds)
        try await consumer.cancel()

        // confirmed-publish: at most `confirmWindow` unconfirmed at once, timed until all are confirmed.
        let confirmed = try await connection.openChannel()
        try await confirmed.enablePublisherConfirms(window: max(1, options.confirmWindow))
        try await confirmed.purgeQueue(queue)
        var confirmations: [PublishConfirmation] = []
        confirmations.reserveCapacity(n)
        lastCPU = CPUTime.process()
        clock = Stopwatch()
        progress.start("confirmed-publish")
        for _ in 0..<n {
            confirmations.append(try await confirmed.publish(body, routingKey: queue))
            progress.advance()
        }
        for confirmation in confirmations { try await confirmation.wait() }
        progress.finish()
        report("confirmed-publish", n, clock.seconds)

        try await confirmed.deleteQueue(queue)
        try await connection.close()
    }

    private func report(_ phase: String, _ count: Int, _ seconds: Double) {
        print("\(options.name) \(phase) \(Int((Double(count) / seconds).rounded())) msg/s")
        // On stderr, so compare's parsing of stdout is unaffected.
        let cpu = CPUTime.process()
        let line = String(
            format: "%@ %@: %.2f us CPU/msg (client process)\n", options.name, phase,
            (cpu - lastCPU) / Double(count) * 1e6)
        FileHandle.standardError.write(Data(line.utf8))
        lastCPU = cpu
    }
}

/// The running phase and how far it got, for a progress line on stderr while a phase runs long.
/// The benchmark loop only bumps an atomic per message; a separate task reads it.
final class PhaseProgress: Sendable {
    private let total: Int
    private let done = Atomic<Int>(0)
    private let phase = Mutex<(name: String, started: ContinuousClock.Instant)?>(nil)

    init(total: Int) { self.total = total }

    func start(_ name: String) {
        done.store(0, ordering: .relaxed)
        phase.withLock { $0 = (name, .now) }
    }

    func advance() { done.add(1, ordering: .relaxed) }

    func finish() { phase.withLock { $0 = nil } }

    /// Names the running phase anew, keeping its start; its count is unknown until the next `set`.
    func rename(_ name: String) {
        done.store(-1, ordering: .relaxed)
        phase.withLock { $0?.name = name }
    }

    func set(_ count: Int) { done.store(count, ordering: .relaxed) }

    /// Every `seconds`, once the current phase has run that long: "<name> <phase>: k/n messages".
    func report(name: String, every seconds: Double) async {
        let interval = Duration.milliseconds(Int64(seconds * 1000))
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard let (phaseName, started) = phase.withLock({ $0 }) else { continue }
            let elapsed = ContinuousClock.now - started
            guard elapsed >= interval else { continue }
            let count = done.load(ordering: .relaxed)
            let line = String(
                format: "%@ %@: %@/%d messages after %.1f s", name, phaseName, count < 0 ? "?" : String(count), total,
                elapsed / .seconds(1))
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
