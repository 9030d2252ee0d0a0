import AMQPWire
import Foundation
import Observability

/// Where a message that could not be handled goes next, and the headers it carries there: the
/// next delay queue (whose TTL dead-letters it back to its queue), or the error queue once
/// retrying cannot help or the delays are used up. The queue workers and the Nameko peers route
/// failures through this one convention (``FailureHeaders``, ``Topology``).
struct FailureRoute: Equatable, Sendable {
    enum Outcome: String, Sendable {
        /// Sent to a delay queue, to be tried again when its TTL runs out.
        case delayed
        /// Parked in the error queue.
        case failed
    }

    /// The properties of the copy: the failure headers stamped, an expiration for a delay.
    var properties: BasicProperties
    /// The queue the copy goes to, through the default exchange.
    var target: String
    var outcome: Outcome

    /// The route for a message consumed from `queue` that failed with `errorType` and
    /// `errorMessage` after `attempts` handler runs; nil when it has nowhere to go (no delay left
    /// or `permanent`, and no error queue).
    ///
    /// - Parameters:
    ///   - exchange: The exchange the message was published to; kept with its routing key in
    ///     the "original" headers of the first failure.
    ///   - delays: The delayed retries' delays in milliseconds; the message's
    ///     ``FailureHeaders/delayedAttempts`` header says how many it has used.
    init?(
        properties: BasicProperties, exchange: String, routingKey: String, queue: String, errorType: String,
        errorMessage: String, permanent: Bool, attempts: Int, delays: [Int], errorQueue: String?, now: Date
    ) {
        var properties = properties
        var headers = properties.headers ?? [:]
        let delayedAttempts = FailureHeaders.count(headers[FailureHeaders.delayedAttempts])
        let timestamp = Self.timestamp(now)
        headers[FailureHeaders.attempts] = .int64(Int64(attempts))
        headers[FailureHeaders.errorType] = .string(errorType)
        headers[FailureHeaders.errorMessage] = .string(String(errorMessage.prefix(Self.errorMessageLimit)))
        if headers[FailureHeaders.firstFailedAt] == nil { headers[FailureHeaders.firstFailedAt] = .string(timestamp) }
        if headers[FailureHeaders.originalQueue] == nil {
            headers[FailureHeaders.originalQueue] = .string(queue)
            headers[FailureHeaders.originalExchange] = .string(exchange)
            headers[FailureHeaders.originalRoutingKey] = .string(routingKey)
        }
        if !permanent && delayedAttempts < delays.count {
            let delay = delays[delayedAttempts]
            headers[FailureHeaders.delayedAttempts] = .int64(Int64(delayedAttempts + 1))
            properties.expiration = String(delay)
            target = Topology.delayQueue(for: queue, delayMilliseconds: delay)
            outcome = .delayed
        } else if let errorQueue {
            headers[FailureHeaders.failedAt] = .string(timestamp)
            properties.expiration = nil
            target = errorQueue
            outcome = .failed
        } else {
            return nil
        }
        properties.headers = headers
        self.properties = properties
    }

    /// Error messages are cut to this many characters in the headers.
    static let errorMessageLimit = 2000

    /// ISO 8601 with fractional seconds, as the failure headers carry times.
    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// Publishes the copy of `delivery` to ``target`` and waits for the broker's confirm; the
    /// caller acks the original when this returns true. When the copy fails, the original is
    /// requeued instead (nothing is lost) and this returns false.
    func move(_ delivery: AMQPDelivery, bus: MessageBus, messageType: String, log: Logger) async -> Bool {
        do {
            try await bus.publishConfirmed(
                OutgoingMessage(body: delivery.body, properties: properties), exchange: "", routingKey: target,
                mandatory: true, messageType: messageType)
        } catch {
            log.error("could not move the message to '\(target)'; requeueing it", metadata: ["error": "\(error)"])
            try? delivery.reject(requeue: true)
            return false
        }
        switch outcome {
        case .failed:
            let error = properties.headers?[FailureHeaders.errorMessage]?.stringValue ?? "?"
            log.error("moved to the error queue", metadata: ["error-queue": target, "error": error])
        case .delayed:
            log.notice("retrying later", metadata: ["delay-ms": properties.expiration ?? "?"])
        }
        return true
    }
}
