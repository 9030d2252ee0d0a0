import AMQPWire
import Foundation

/// The three phases ../shared/bench/compare runs for every client, done the same way.
final class PhasesBenchmark {
    let options: Options
    private var lastCPU = ProcessCPU.seconds()

    init(options: Options) { self.options = options }

    func run() async throws {
        let connection = try await AMQPConnection.connect(url: options.uri)
        let channel = try await connection.openChannel()
        let queue = options.queue
        try await channel.declareQueue(queue)
        try await channel.purgeQueue(queue)
        let body = [UInt8](repeating: 0, count: options.size)
        let n = options.messages

        // publish: clocked until the broker counts every message in the queue.
        lastCPU = ProcessCPU.seconds()
        var clock = Stopwatch()
        for _ in 0..<n { try await channel.publish(body, routingKey: queue) }
        while try await channel.declareQueue(queue, passive: true).messageCount < n {
            try await Task.sleep(for: .milliseconds(2))
        }
        report("publish", n, clock.seconds)

        // consume: prefetch, manual acks with multiple=true every few deliveries.
        try await channel.setPrefetch(count: options.prefetch)
        lastCPU = ProcessCPU.seconds()
        clock = Stopwatch()
        let consumer = try await channel.consume(queue: queue, bufferCapacity: max(Int(options.prefetch), 1024))
        var received = 0
        for try await delivery in consumer {
            received += 1
            if received % options.multiAckEvery == 0 || received == n { try delivery.ack(multiple: true) }
            if received == n { break }
        }
        report("consume", n, clock.seconds)
        try await consumer.cancel()

        // confirmed-publish: at most `confirmWindow` unconfirmed at once, timed until all are confirmed.
        let confirmed = try await connection.openChannel()
        try await confirmed.enablePublisherConfirms(window: max(1, options.confirmWindow))
        try await confirmed.purgeQueue(queue)
        var confirmations: [PublishConfirmation] = []
        confirmations.reserveCapacity(n)
        lastCPU = ProcessCPU.seconds()
        clock = Stopwatch()
        for _ in 0..<n { confirmations.append(try await confirmed.publish(body, routingKey: queue)) }
        for confirmation in confirmations { try await confirmation.wait() }
        report("confirmed-publish", n, clock.seconds)

        try await confirmed.deleteQueue(queue)
        try await connection.close()
    }

    private func report(_ phase: String, _ count: Int, _ seconds: Double) {
        print("\(options.name) \(phase) \(Int((Double(count) / seconds).rounded())) msg/s")
        // On stderr, so compare's parsing of stdout is unaffected.
        let cpu = ProcessCPU.seconds()
        let line = String(
            format: "%@ %@: %.2f us CPU/msg (client process)\n", options.name, phase,
            (cpu - lastCPU) / Double(count) * 1e6)
        FileHandle.standardError.write(Data(line.utf8))
        lastCPU = cpu
    }
}

/// The process's user and system CPU time so far.
enum ProcessCPU {
    static func seconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

/// Monotonic elapsed time.
struct Stopwatch {
    private let start = ContinuousClock.now
    var seconds: Double {
        let (s, attoseconds) = (ContinuousClock.now - start).components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
