import AMQPWire
import Foundation

/// The three phases ../shared/bench/compare runs for every client, done the same way.
struct PhasesBenchmark {
    let options: Options

    func run() async throws {
        let connection = try await AMQPConnection.connect(url: options.uri)
        let channel = try await connection.openChannel()
        let queue = options.queue
        try await channel.declareQueue(queue)
        try await channel.purgeQueue(queue)
        let body = [UInt8](repeating: 0, count: options.size)
        let n = options.messages

        // publish: clocked until the broker counts every message in the queue.
        var clock = Stopwatch()
        for _ in 0..<n { try await channel.publish(body, routingKey: queue) }
        while try await channel.declareQueue(queue, passive: true).messageCount < n {
            try await Task.sleep(for: .milliseconds(2))
        }
        report("publish", n, clock.seconds)

        // consume: prefetch, manual acks with multiple=true every few deliveries.
        try await channel.setPrefetch(count: options.prefetch)
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
        clock = Stopwatch()
        for _ in 0..<n { confirmations.append(try await confirmed.publish(body, routingKey: queue)) }
        for confirmation in confirmations { try await confirmation.wait() }
        report("confirmed-publish", n, clock.seconds)

        try await confirmed.deleteQueue(queue)
        try await connection.close()
    }

    private func report(_ phase: String, _ count: Int, _ seconds: Double) {
        print("\(options.name) \(phase) \(Int((Double(count) / seconds).rounded())) msg/s")
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
