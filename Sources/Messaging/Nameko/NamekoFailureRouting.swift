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
        ConsumeLoops.acknowledge(delivery, log: log)
        return route.outcome.rawValue
    }
}
