import AMQPWire
import BenchSupport
import Foundation
import Synchronization

/// Producers and consumers at once for a duration, as RabbitMQ's PerfTest runs them.
struct LoadBenchmark {
    let options: Options

    final class Counters: Sendable {
        let published = Atomic<Int>(0)
        let confirmed = Atomic<Int>(0)
        let consumed = Atomic<Int>(0)
    }

    func run() async throws {
        let duration = Double(options.duration ?? 10)
        let connection = try await AMQPConnection.connect(options.configuration())
        let setup = try await connection.openChannel()
        let queue = options.queue
        try await setup.declareQueue(queue)
        try await setup.purgeQueue(queue)
        let counters = Counters()
        let deadline = ContinuousClock.now + .seconds(duration)
        let options = self.options

        let clock = Stopwatch()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<options.consumers {
                group.addTask { try await Self.consume(connection, options, counters, deadline) }
            }
            for _ in 0..<options.producers {
                group.addTask { try await Self.produce(connection, options, counters, deadline) }
            }
            group.addTask { await Self.progress(counters, clock, deadline) }
            try await group.waitForAll()
        }
        let seconds = clock.seconds
        let published = counters.published.load(ordering: .relaxed)
        let consumed = counters.consumed.load(ordering: .relaxed)
        print(
            "\(options.name) load: \(options.producers) producers, \(options.consumers) consumers, \(options.size) B, \(Int(seconds)) s"
        )
        print("\(options.name) published \(Int(Double(published) / seconds)) msg/s (\(published) messages)")
        if options.confirmWindow > 0 {
            let confirmed = counters.confirmed.load(ordering: .relaxed)
            print("\(options.name) confirmed \(Int(Double(confirmed) / seconds)) msg/s (\(confirmed) messages)")
        }
        print("\(options.name) consumed \(Int(Double(consumed) / seconds)) msg/s (\(consumed) messages)")
        try await setup.deleteQueue(queue)
        try await connection.close()
    }

    private static func produce(
        _ connection: AMQPConnection, _ options: Options, _ counters: Counters, _ deadline: ContinuousClock.Instant
    ) async throws {
        let channel = try await connection.openChannel()
        if options.confirmWindow > 0 { try await channel.enablePublisherConfirms(window: options.confirmWindow) }
        let body = [UInt8](repeating: 0, count: options.size)
        var pending: [PublishConfirmation] = []
        while ContinuousClock.now < deadline {
            for _ in 0..<100 {
                let confirmation = try await channel.publish(body, routingKey: options.queue)
                if options.confirmWindow > 0 { pending.append(confirmation) }
            }
            counters.published.add(100, ordering: .relaxed)
            // Settle what is already confirmed, so the list stays as short as the window.
            while let first = pending.first, let result = first.result {
                _ = try result.get()
                pending.removeFirst()
                counters.confirmed.add(1, ordering: .relaxed)
            }
        }
        for confirmation in pending {
            try await confirmation.wait()
            counters.confirmed.add(1, ordering: .relaxed)
        }
        try await channel.close()
    }

    private static func consume(
        _ connection: AMQPConnection, _ options: Options, _ counters: Counters, _ deadline: ContinuousClock.Instant
    ) async throws {
        let channel = try await connection.openChannel()
        try await channel.setPrefetch(count: options.prefetch)
        let consumer = try await channel.consume(queue: options.queue, bufferCapacity: max(Int(options.prefetch), 1024))
        let stopper = Task {
            try await Task.sleep(until: deadline + .milliseconds(500))
            try await consumer.cancel()
        }
        var received = 0
        for try await delivery in consumer {
            received += 1
            if received % options.multiAckEvery == 0 { try delivery.ack(multiple: true) }
            counters.consumed.add(1, ordering: .relaxed)
        }
        stopper.cancel()
        try await channel.close()
    }

    private static func progress(_ counters: Counters, _ clock: Stopwatch, _ deadline: ContinuousClock.Instant) async {
        var last = (0, 0, clock.seconds)
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .seconds(1))
            let now = (
                counters.published.load(ordering: .relaxed), counters.consumed.load(ordering: .relaxed), clock.seconds
            )
            let elapsed = max(now.2 - last.2, 0.001)
            let line = String(
                format: "time %.0f s, sent %.0f msg/s, received %.0f msg/s", now.2, Double(now.0 - last.0) / elapsed,
                Double(now.1 - last.1) / elapsed)
            FileHandle.standardError.write(Data((line + "\n").utf8))
            last = now
        }
    }
}
