import AMQPWire
import Foundation
import Observability

/// Where a Nameko message goes when it cannot be handled: the library's retry and error-queue
/// conventions (``RetryPolicy``, ``FailureHeaders``) applied to a queue named the Nameko way.
///
/// Nameko itself acks and forgets a failed event, and a request it cannot answer kills its
/// container (docs/wire-formats/nameko.md); these peers keep the message instead.
struct NamekoFailureRouting: Sendable {
    /// The consumed queue.
    var queue: String
    /// Delays of the delayed retries, in milliseconds (none for RPC).
    var delays: [Int]

    var errorQueue: String { Topology.errorQueue(for: queue) }

    /// Declares the error queue and the delay queues (each dead-letters back to `queue` through
    /// the default exchange once a message's TTL runs out).
    func declare(on channel: AMQPChannel) async throws {
        for delay in delays {
            try await channel.declareQueue(
                Topology.delayQueue(for: queue, delayMilliseconds: delay), durable: true,
                arguments: ["x-dead-letter-exchange": .string(""), "x-dead-letter-routing-key": .string(queue)])
        }
        try await channel.declareQueue(errorQueue, durable: true)
    }

    /// Moves `delivery` to its next delay queue, or to the error queue when `permanent` or the
    /// delays are used up, then acks it once the broker confirmed the copy. When the copy fails,
    /// the message is requeued instead: nothing is lost. Returns the outcome for the metrics
    /// (`delayed`, `failed` or `requeued`).
    @discardableResult
    func settle(
        _ delivery: AMQPDelivery, error: any Error, permanent: Bool, attempts: Int, bus: MessageBus, log: Logger
    ) async -> String {
        // Never nil here: with an error queue there is always somewhere to go.
        guard
            let route = FailureRoute(
                properties: delivery.properties, exchange: delivery.exchange, routingKey: delivery.routingKey,
                queue: queue, errorType: (error as? NamekoRemoteError)?.excType ?? QueueWorker.typeName(error),
                errorMessage: "\(error)", permanent: permanent, attempts: attempts, delays: delays,
                errorQueue: errorQueue, now: Date())
        else {
            try? delivery.reject(requeue: true)
            return "requeued"
        }
        guard await route.move(delivery, bus: bus, messageType: delivery.routingKey, log: log) else {
            return "requeued"
        }
        NamekoConsumption.acknowledge(delivery, log: log)
        return route.outcome.rawValue
    }
}

/// The consume loop Nameko peers share: up to the prefetch of handlers at once, and a graceful
/// stop (no new messages; those buffered and in flight are finished and settled).
enum NamekoConsumption {
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
    /// stops the consumers.
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

    static func acknowledge(_ delivery: AMQPDelivery, log: Logger) {
        do {
            try delivery.ack()
        } catch {
            // The connection was recovered in between: the broker redelivers it.
            log.warning("could not ack; the broker will redeliver the message", metadata: ["error": "\(error)"])
        }
    }
}
