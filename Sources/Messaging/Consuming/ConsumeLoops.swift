import AMQPWire
import Observability

/// The consume loop every consuming part of the library shares (``MessagingService``'s queue
/// workers, ``NamekoRPCServer``, ``NamekoEventSubscriber``): up to the prefetch of handlers at
/// once, and a graceful stop (no new messages; those buffered and in flight are finished and
/// settled).
enum ConsumeLoops {
    /// Runs `process` for each delivery of `consumer` until it ends, waits for those in flight,
    /// then closes `channel`. Throws when the consumer fails (its channel or connection closed
    /// for good).
    static func run(
        _ consumer: AMQPConsumer, channel: AMQPChannel, process: @escaping @Sendable (AMQPDelivery) async -> Void
    ) async throws {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for try await delivery in consumer {
                    group.addTask { await process(delivery) }
                }
                try await group.waitForAll()
            }
        } catch {
            try? await channel.close()
            throw error
        }
        try? await channel.close()
    }

    /// One consumed queue and what to do with each of its deliveries.
    struct Loop: Sendable {
        var consumer: AMQPConsumer
        var channel: AMQPChannel
        var process: @Sendable (AMQPDelivery) async -> Void
    }

    /// Runs `loops` until the calling task is cancelled, then stops them gracefully. They run in
    /// a task of their own, so cancelling the caller does not cancel handlers in flight: it only
    /// stops the consumers. When one fails for good, the others are cancelled and its error thrown.
    static func runUntilCancelled(_ loops: [Loop]) async throws {
        let work = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for loop in loops {
                    group.addTask { try await run(loop.consumer, channel: loop.channel, process: loop.process) }
                }
                try await group.waitForAll()
            }
        }
        try await withTaskCancellationHandler {
            try await work.value
        } onCancel: {
            for loop in loops { Task { [consumer = loop.consumer] in try? await consumer.cancel() } }
        }
    }

    /// The settings every consuming part checks before it starts: a service name, and a
    /// concurrency that is also a valid prefetch.
    static func check(service: String, concurrency: Int) throws(MessagingError) {
        guard (1...Int(UInt16.max)).contains(concurrency) else {
            throw MessagingError(.invalidConfiguration, "concurrency must be from 1 to 65535, not \(concurrency)")
        }
        guard !service.isEmpty else { throw MessagingError(.invalidConfiguration, "the service needs a name") }
    }

    /// Acks a handled delivery; one from before a recovery cannot be acked, and is redelivered.
    static func acknowledge(_ delivery: AMQPDelivery, log: Logger) {
        do {
            try delivery.ack()
        } catch {
            // The connection was recovered in between: the broker redelivers it.
            log.warning("could not ack; the broker will redeliver the message", metadata: ["error": "\(error)"])
        }
    }
}
