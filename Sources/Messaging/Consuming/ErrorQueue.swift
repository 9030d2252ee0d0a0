public import AMQPWire

/// Moves messages from an error queue back to the queue they failed on, for another try (after
/// the bug is fixed or the outage is over).
public enum ErrorQueue {
    /// The outcome of a ``replay(_:connection:limit:)``.
    public struct ReplayResult: Sendable, Equatable {
        /// Messages republished to their original queue (and removed from the error queue).
        public var replayed: Int
        /// Messages left in the error queue because they do not say where they came from.
        public var skipped: Int

        public init(replayed: Int, skipped: Int) {
            self.replayed = replayed
            self.skipped = skipped
        }
    }

    /// Takes up to `limit` messages from `errorQueue` and publishes each, with its failure
    /// headers removed and its attempts reset, to the queue named in its `x-original-queue`
    /// header. Each is removed from the error queue only after the broker confirmed the copy, so
    /// a failure midway loses nothing (a message may then be replayed twice).
    public static func replay(
        _ errorQueue: String, connection: AMQPConnection, limit: Int = .max
    ) async throws -> ReplayResult {
        let channel = try await connection.openChannel()
        defer { Task { try? await channel.close() } }
        try await channel.enablePublisherConfirms()
        var result = ReplayResult(replayed: 0, skipped: 0)
        var skippedTags: [UInt64] = []
        while result.replayed + result.skipped < limit, let message = try await channel.get(queue: errorQueue) {
            var properties = message.properties
            var headers = properties.headers ?? [:]
            guard let target = headers[FailureHeaders.originalQueue]?.stringValue, !target.isEmpty else {
                skippedTags.append(message.deliveryTag)
                result.skipped += 1
                continue
            }
            for key in [
                FailureHeaders.attempts, FailureHeaders.delayedAttempts, FailureHeaders.errorType,
                FailureHeaders.errorMessage, FailureHeaders.firstFailedAt, FailureHeaders.failedAt,
                FailureHeaders.originalQueue, FailureHeaders.originalExchange, FailureHeaders.originalRoutingKey,
                "x-death", "x-first-death-exchange", "x-first-death-queue", "x-first-death-reason",
            ] {
                headers[key] = nil
            }
            headers["x-replayed-from"] = .string(errorQueue)
            properties.headers = headers
            properties.expiration = nil
            try await channel.publish(
                message.body, exchange: "", routingKey: target, mandatory: false, properties: properties
            ).wait()
            try message.ack()
            result.replayed += 1
        }
        // Skipped messages go back where they were, for a person to look at.
        for tag in skippedTags { try? channel.reject(deliveryTag: tag, requeue: true) }
        return result
    }
}
