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
        var properties = delivery.properties
        var headers = properties.headers ?? [:]
        let delayedAttempts = headers[FailureHeaders.delayedAttempts]?.intValue ?? 0
        let now = QueueWorker.timestamp(Date())
        let description = "\(error)"
        headers[FailureHeaders.attempts] = .int64(Int64(attempts))
        headers[FailureHeaders.errorType] = .string(
            (error as? NamekoRemoteError)?.excType ?? QueueWorker.typeName(error))
        headers[FailureHeaders.errorMessage] = .string(String(description.prefix(2000)))
        if headers[FailureHeaders.firstFailedAt] == nil { headers[FailureHeaders.firstFailedAt] = .string(now) }
        if headers[FailureHeaders.originalQueue] == nil {
            headers[FailureHeaders.originalQueue] = .string(queue)
            headers[FailureHeaders.originalExchange] = .string(delivery.exchange)
            headers[FailureHeaders.originalRoutingKey] = .string(delivery.routingKey)
        }
        let target: String
        let outcome: String
        if !permanent && delayedAttempts < delays.count {
            let delay = delays[delayedAttempts]
            headers[FailureHeaders.delayedAttempts] = .int64(Int64(delayedAttempts + 1))
            properties.expiration = String(delay)
            target = Topology.delayQueue(for: queue, delayMilliseconds: delay)
            outcome = "delayed"
        } else {
            headers[FailureHeaders.failedAt] = .string(now)
            properties.expiration = nil
            target = errorQueue
            outcome = "failed"
        }
        properties.headers = headers
        do {
            try await bus.publishConfirmed(
                OutgoingMessage(body: delivery.body, properties: properties), exchange: "", routingKey: target,
                mandatory: true, messageType: delivery.routingKey)
        } catch {
            log.error("could not move the message to '\(target)'; requeueing it", metadata: ["error": "\(error)"])
            try? delivery.reject(requeue: true)
            return "requeued"
        }
        if outcome == "failed" {
            log.error("moved to the error queue", metadata: ["error-queue": target, "error": description])
        } else {
            log.notice("retrying later", metadata: ["delay-ms": properties.expiration ?? "?"])
        }
        NamekoConsumption.acknowledge(delivery, log: log)
        return outcome
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
