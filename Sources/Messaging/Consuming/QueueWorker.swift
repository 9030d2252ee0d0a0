import AMQPWire
import Foundation
import Observability

/// Consumes one queue for a service: declares it with its delay and error queues, runs up to
/// `concurrency` handlers at once, and settles every message: ack after success, or moved
/// (confirmed) to a delay or error queue and then acked, or requeued when moving it failed.
final class QueueWorker: Sendable {
    let registration: QueueRegistration
    let service: MessagingService
    let channel: AMQPChannel
    let consumer: AMQPConsumer
    /// Delays for this queue in milliseconds (none for RPC and broadcast queues).
    let delays: [Int]
    let errorQueue: String?
    /// Metrics of each handled type, looked up once here rather than per message.
    let metricsByType: [String: TypeMetrics]

    struct TypeMetrics {
        let duration: Histogram
        let outcomes: [String: Counter]
    }

    static let outcomes = ["handled", "delayed", "failed"]

    private init(
        registration: QueueRegistration, service: MessagingService, channel: AMQPChannel, consumer: AMQPConsumer,
        delays: [Int], errorQueue: String?
    ) {
        self.registration = registration
        self.service = service
        self.channel = channel
        self.consumer = consumer
        self.delays = delays
        self.errorQueue = errorQueue
        var metricsByType: [String: TypeMetrics] = [:]
        for type in registration.handlers.keys {
            metricsByType[type] = TypeMetrics(
                duration: Self.duration(service.metrics, queue: registration.queue, type: type),
                outcomes: Dictionary(
                    uniqueKeysWithValues: Self.outcomes.map {
                        ($0, Self.counter(service.metrics, queue: registration.queue, type: type, outcome: $0))
                    }))
        }
        self.metricsByType = metricsByType
    }

    static func duration(_ metrics: MetricsRegistry, queue: String, type: String) -> Histogram {
        metrics.histogram(
            "messaging_handler_duration_seconds", help: "Handler run time", labels: ["queue": queue, "type": type])
    }

    static func counter(_ metrics: MetricsRegistry, queue: String, type: String, outcome: String) -> Counter {
        metrics.counter(
            "messaging_messages_total", help: "Messages consumed, by outcome",
            labels: ["queue": queue, "type": type, "outcome": outcome])
    }

    static func start(_ registration: QueueRegistration, service: MessagingService) async throws -> QueueWorker {
        let config = service.configuration
        let channel = try await service.connection.openChannel()
        let queue = registration.queue
        let durable = config.queueKind.arguments
        var delays = config.retry.delayMilliseconds
        var errorQueue: String? = Topology.errorQueue(for: queue)
        switch registration.kind {
        case .commands:
            try await channel.declareQueue(queue, durable: true, arguments: durable)
        case .subscription(let exchange, let routingKey, let broadcast):
            try await channel.declareExchange(exchange, type: .topic, durable: true)
            if broadcast {
                // One queue per instance, gone with it; its failures share one durable error queue.
                try await channel.declareQueue(queue, exclusive: true, autoDelete: true)
                delays = []
                errorQueue = Topology.errorQueue(
                    for: Topology.eventQueue(subscriber: config.name, messageType: routingKey))
            } else {
                try await channel.declareQueue(queue, durable: true, arguments: durable)
            }
            try await channel.bindQueue(queue, to: exchange, routingKey: routingKey)
        case .rpc:
            // Exists only while a server consumes it, so a call with no server is returned at once.
            try await channel.declareQueue(queue, autoDelete: true)
            delays = []
        }
        for delay in delays {
            // The same kind as the queue: in a cluster, a classic delay queue would be lost with its
            // node, and with it every retry path of a replicated queue.
            var arguments = durable
            arguments["x-dead-letter-exchange"] = .string("")
            arguments["x-dead-letter-routing-key"] = .string(queue)
            try await channel.declareQueue(
                Topology.delayQueue(for: queue, delayMilliseconds: delay), durable: true, arguments: arguments)
        }
        if let errorQueue { try await channel.declareQueue(errorQueue, durable: true, arguments: durable) }
        try await channel.setPrefetch(count: UInt16(config.concurrency))
        let consumer = try await channel.consume(queue: queue, bufferCapacity: config.concurrency)
        return QueueWorker(
            registration: registration, service: service, channel: channel, consumer: consumer, delays: delays,
            errorQueue: errorQueue)
    }

    /// The worker's consume loop, for ``ConsumeLoops``: each delivery is processed and settled.
    var loop: ConsumeLoops.Loop {
        .init(consumer: consumer, channel: channel) { delivery in await self.process(delivery) }
    }

    // MARK: One message

    private var logger: Logger { service.logger }
    private var format: any WireFormat { registration.format }

    func process(_ delivery: AMQPDelivery) async {
        let incoming = IncomingMessage(
            body: delivery.body, properties: delivery.properties, exchange: delivery.exchange,
            routingKey: delivery.routingKey)
        let headers = delivery.properties.headers ?? [:]
        let previousAttempts = FailureHeaders.count(headers[FailureHeaders.attempts])
        let delayedAttempts = FailureHeaders.count(headers[FailureHeaders.delayedAttempts])
        var log = logger
        log[metadata: "queue"] = registration.queue
        log[metadata: "message-id"] = delivery.properties.messageID ?? "(none)"

        let metadata: MessageMetadata
        do {
            metadata = try format.metadata(of: incoming)
        } catch {
            await settleFailure(delivery, error, attempts: previousAttempts, log: log)
            return
        }
        log[metadata: "type"] = metadata.messageType
        guard let handler = registration.handlers[metadata.messageType] else {
            let error = Rejected(
                "no handler for message type '\(metadata.messageType)' on queue '\(registration.queue)'")
            await settleFailure(delivery, error, attempts: previousAttempts, log: log)
            return
        }

        let duration =
            metricsByType[metadata.messageType]?.duration
            ?? Self.duration(service.metrics, queue: registration.queue, type: metadata.messageType)
        let tries = handler.isRPC ? 1 : service.configuration.retry.immediateRetries + 1
        var attempts = previousAttempts
        var lastError: any Error = Rejected("not run")
        for attempt in 0..<tries {
            attempts += 1
            let context = MessageContext(
                metadata: metadata, isRedelivery: delivery.redelivered || attempts > 1, attempt: attempts,
                queue: registration.queue, logger: log,
                isLastAttempt: handler.isRPC || (attempt == tries - 1 && delayedAttempts >= delays.count))
            do {
                let result = try await duration.time { try await handler.run(incoming, context, format) }
                if case .reply(let reply) = result {
                    guard await sendReply(reply, for: delivery, log: log) else { return }
                }
                count("handled", metadata.messageType)
                acknowledge(delivery, log: log)
                return
            } catch {
                lastError = error
                log.warning(
                    "handler failed", metadata: ["attempt": String(attempts), "error": Self.describe(error)])
                if error is any PermanentFailure { break }
            }
        }
        if handler.isRPC {
            let reply = RPCReply.failure(
                type: Self.typeName(lastError), message: Self.describe(lastError), requestType: metadata.messageType,
                correlationID: delivery.properties.correlationID)
            count("failed", metadata.messageType)
            if await sendReply(reply, for: delivery, log: log) { acknowledge(delivery, log: log) }
            return
        }
        await settleFailure(delivery, lastError, attempts: attempts, log: log)
    }

    /// Moves a failed message to its next delay queue, or to the error queue when retrying cannot
    /// help or the delays are used up; acks it once the broker confirmed the move.
    private func settleFailure(_ delivery: AMQPDelivery, _ error: any Error, attempts: Int, log: Logger) async {
        let type = delivery.properties.type ?? "(none)"
        guard
            let route = FailureRoute(
                properties: delivery.properties, exchange: delivery.exchange, routingKey: delivery.routingKey,
                queue: registration.queue, errorType: Self.typeName(error), errorMessage: Self.describe(error),
                permanent: error is any PermanentFailure || error is MessagingError, attempts: attempts,
                delays: delays, errorQueue: errorQueue, now: Date())
        else {
            // RPC requests that cannot be answered (no reply-to) have nowhere to go but back.
            log.error("dropping a request that cannot be answered", metadata: ["error": Self.describe(error)])
            acknowledge(delivery, log: log)
            return
        }
        // Not moved, so not acked: the broker redelivers it later. Nothing is lost.
        guard await route.move(delivery, bus: service.bus, messageType: type, log: log) else { return }
        count(route.outcome.rawValue, type)
        acknowledge(delivery, log: log)
    }

    private func sendReply(_ reply: OutgoingMessage, for delivery: AMQPDelivery, log: Logger) async -> Bool {
        guard let replyTo = delivery.properties.replyTo, !replyTo.isEmpty else {
            log.warning("an RPC request without reply-to; its reply is dropped")
            return true
        }
        do {
            // Not mandatory: a caller that gave up (timed out, exited) is not an error here.
            try await service.bus.publishConfirmed(
                reply, exchange: "", routingKey: replyTo, mandatory: false,
                messageType: reply.properties.type ?? "reply")
            return true
        } catch {
            log.error("could not send the reply; requeueing the request", metadata: ["error": "\(error)"])
            try? delivery.reject(requeue: true)
            return false
        }
    }

    private func acknowledge(_ delivery: AMQPDelivery, log: Logger) { ConsumeLoops.acknowledge(delivery, log: log) }

    private func count(_ outcome: String, _ type: String) {
        let counter =
            metricsByType[type]?.outcomes[outcome]
            ?? Self.counter(service.metrics, queue: registration.queue, type: type, outcome: outcome)
        counter.increment()
    }

    static func typeName(_ error: any Error) -> String {
        if let error = error as? MessagingError { return "MessagingError.\(error.code)" }
        return String(reflecting: type(of: error))
    }

    static func describe(_ error: any Error) -> String {
        String(describing: error)
    }
}
