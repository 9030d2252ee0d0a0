public import AMQPWire
public import Observability
import Synchronization

/// Handles Nameko services' events in Swift, each handler consuming a queue named and declared
/// like a Nameko `SERVICE_POOL` `@event_handler`'s, so Swift instances share the events with each
/// other (and with Nameko instances of the same service and method).
///
/// ```swift
/// let events = try await NamekoEventSubscriber.start(connection: connection, configuration: .init(service: "mailer"))
/// events.subscribe(to: Greeted.self, method: "on_greeted") { event, context in … }
/// try await events.run()   // until the task is cancelled
/// ```
///
/// For each handler: the exchange `<source>.events` (topic, durable), the queue
/// `evt-<source>-<event type>--<service>.<method>` (durable, not exclusive, not auto-delete, no
/// arguments) bound with the event type, and a prefetch equal to ``Configuration/concurrency``.
///
/// Unlike Nameko, which acks an event whether its handler succeeded or not, a failed event gets
/// the library's guarantees: immediate retries, delayed retries through the queue's delay queues,
/// then the error queue `<queue>.error`, the message whole with ``FailureHeaders``. An event that
/// is not JSON or does not decode goes to the error queue at once. A message is acked only after
/// its handler succeeded or it was moved (confirmed); when moving fails it is requeued.
public final class NamekoEventSubscriber: Sendable {
    public struct Configuration: Sendable {
        /// The handling service's name, part of the queue names.
        public var service: String
        /// Handlers running at once per queue, and each queue's prefetch.
        public var concurrency: Int
        public var retry: RetryPolicy
        /// How many callers' ids a worker's call id stack keeps (Nameko's `PARENT_CALLS_TRACKED`).
        public var parentCallsTracked: Int

        public init(
            service: String, concurrency: Int = 10, retry: RetryPolicy = RetryPolicy(), parentCallsTracked: Int = 10
        ) {
            self.service = service
            self.concurrency = concurrency
            self.retry = retry
            self.parentCallsTracked = parentCallsTracked
        }
    }

    struct Subscription: Sendable {
        var source: String
        var eventType: String
        var method: String
        var queue: String
        var handle: @Sendable (NamekoJSON, NamekoContext) async throws -> Void
    }

    private struct State {
        var subscriptions: [String: Subscription] = [:]
        var running = false
        var registrationError: MessagingError?
    }

    public let configuration: Configuration
    public let connection: AMQPConnection
    public let logger: Logger
    public let metrics: MetricsRegistry
    /// Moves failed events to delay and error queues, with confirms.
    let bus: MessageBus
    private let state = Mutex(State())

    private init(
        configuration: Configuration, connection: AMQPConnection, bus: MessageBus, logger: Logger,
        metrics: MetricsRegistry
    ) {
        self.configuration = configuration
        self.connection = connection
        self.bus = bus
        self.logger = logger
        self.metrics = metrics
    }

    /// Prepares a subscriber on `connection`. Subscribe, then ``run()``. Throws
    /// `.invalidConfiguration` for an empty service name or a concurrency outside 1...65535.
    public static func start(
        connection: AMQPConnection, configuration: Configuration, logger: Logger? = nil,
        metrics: MetricsRegistry = MetricsRegistry()
    ) async throws -> NamekoEventSubscriber {
        try ConsumeLoops.check(service: configuration.service, concurrency: configuration.concurrency)
        let logger = logger ?? Logger(label: "\(configuration.service).nameko-events")
        let bus = try await MessageBus.start(
            connection: connection, serviceName: configuration.service,
            logger: logger.labelled("\(logger.label).bus"), metrics: metrics)
        return NamekoEventSubscriber(
            configuration: configuration, connection: connection, bus: bus, logger: logger, metrics: metrics)
    }

    // MARK: Registration

    /// Handles event `E` with a handler named `method` (the Python method name of a Nameko
    /// handler; part of the queue name, so keep it stable). Defaults to `on_<event type>`.
    public func subscribe<E: NamekoEvent>(
        to event: E.Type, method: String? = nil, handler: @escaping @Sendable (E, NamekoContext) async throws -> Void
    ) {
        subscribe(
            source: E.source, eventType: E.eventType, as: E.self, method: method ?? "on_\(E.eventType)",
            handler: handler)
    }

    /// Handles events `eventType` of service `source`, their data decoded as `Payload` (kombu's
    /// `__type__` wrappers unwrapped), with a handler named `method`.
    public func subscribe<Payload: Decodable & Sendable>(
        source: String, eventType: String, as payload: Payload.Type, method: String,
        handler: @escaping @Sendable (Payload, NamekoContext) async throws -> Void
    ) {
        let queue = NamekoTopology.eventQueue(
            source: source, eventType: eventType, service: configuration.service, method: method)
        let subscription = Subscription(source: source, eventType: eventType, method: method, queue: queue) {
            json, context in
            let value: Payload
            do {
                value = try NamekoCoding.decode(Payload.self, from: json)
            } catch {
                throw UndecodableMessage(
                    description: "the event is not a valid \(Payload.self): \(NativeWireFormat.describe(error))")
            }
            try await handler(value, context)
        }
        state.withLock { s in
            if s.running {
                s.registrationError = MessagingError(
                    .invalidConfiguration, "the handler for '\(queue)' was registered after run() started")
            } else if s.subscriptions[queue] != nil {
                s.registrationError = MessagingError(.invalidConfiguration, "'\(queue)' has two handlers")
            }
            s.subscriptions[queue] = subscription
        }
    }

    /// The queues this subscriber consumes.
    public var queues: [String] { state.withLock { $0.subscriptions.keys.sorted() } }

    // MARK: Running

    /// Declares the exchanges and queues, consumes them and runs handlers until the calling task
    /// is cancelled; then stops consuming, lets handlers in flight finish and be acked, closes the
    /// channels and returns. Throws for a bad registration, a topology the broker refuses, or a
    /// consumer that fails for good.
    public func run() async throws {
        let subscriptions = try state.withLock { s throws(MessagingError) -> [Subscription] in
            if let error = s.registrationError { throw error }
            guard !s.running else { throw MessagingError(.invalidConfiguration, "run() is already running") }
            guard !s.subscriptions.isEmpty else {
                throw MessagingError(.invalidConfiguration, "no event handler is registered")
            }
            s.running = true
            return s.subscriptions.values.sorted { $0.queue < $1.queue }
        }
        do {
            try await consume(subscriptions)
        } catch {
            await bus.close()
            throw error
        }
        await bus.close()
    }

    private func consume(_ subscriptions: [Subscription]) async throws {
        var loops: [ConsumeLoops.Loop] = []
        var channels: [AMQPChannel] = []
        do {
            for subscription in subscriptions {
                let channel = try await connection.openChannel()
                channels.append(channel)
                loops.append(try await start(subscription, on: channel))
            }
        } catch {
            // Those already consuming stop with their channels.
            for channel in channels { try? await channel.close() }
            throw error
        }
        logger.info(
            "handling Nameko events",
            metadata: [
                "queues": subscriptions.map(\.queue).joined(separator: ","),
                "concurrency": String(configuration.concurrency),
            ])
        try await ConsumeLoops.runUntilCancelled(loops)
        logger.info("stopped")
    }

    /// Declares a subscription's exchange and queues on `channel` and starts consuming.
    private func start(_ subscription: Subscription, on channel: AMQPChannel) async throws -> ConsumeLoops.Loop {
        let failures = NamekoFailureRouting(queue: subscription.queue, delays: configuration.retry.delayMilliseconds)
        let exchange = NamekoTopology.eventExchange(source: subscription.source)
        try await channel.declareExchange(exchange, type: .topic, durable: true)
        try await channel.declareQueue(subscription.queue, durable: true)
        try await channel.bindQueue(subscription.queue, to: exchange, routingKey: subscription.eventType)
        try await failures.declare(on: channel)
        try await channel.setPrefetch(count: UInt16(configuration.concurrency))
        let consumer = try await channel.consume(queue: subscription.queue, bufferCapacity: configuration.concurrency)
        return .init(consumer: consumer, channel: channel) { delivery in
            await self.process(delivery, subscription, failures)
        }
    }

    // MARK: One event

    private func process(
        _ delivery: AMQPDelivery, _ subscription: Subscription, _ failures: NamekoFailureRouting
    ) async {
        var log = logger
        log[metadata: "queue"] = subscription.queue
        let previousAttempts = FailureHeaders.count(delivery.properties.headers?[FailureHeaders.attempts])
        let json: NamekoJSON
        do {
            try NamekoRPCMessages.checkJSON(delivery.properties.contentType)
            json = try NamekoJSON.parse(delivery.body)
        } catch {
            count("failed", subscription)
            await failures.settle(
                delivery, error: UndecodableMessage(description: "the event is not JSON: \(error)"), permanent: true,
                attempts: previousAttempts, bus: bus, log: log)
            return
        }
        let duration = metrics.histogram(
            "messaging_handler_duration_seconds", help: "Handler run time",
            labels: ["queue": subscription.queue, "type": subscription.eventType])
        var attempts = previousAttempts
        var lastError: any Error = Rejected("not run")
        for _ in 0...configuration.retry.immediateRetries {
            attempts += 1
            let context = NamekoContext(
                service: configuration.service, method: subscription.method, headers: delivery.properties.headers,
                parentCallsTracked: configuration.parentCallsTracked, correlationID: delivery.properties.correlationID,
                isRedelivery: delivery.redelivered || attempts > 1, attempt: attempts, logger: log)
            do {
                try await duration.time { try await subscription.handle(json, context) }
                count("handled", subscription)
                ConsumeLoops.acknowledge(delivery, log: log)
                return
            } catch {
                lastError = error
                log.warning("handler failed", metadata: ["attempt": String(attempts), "error": "\(error)"])
                if error is any PermanentFailure { break }
            }
        }
        let outcome = await failures.settle(
            delivery, error: lastError, permanent: lastError is any PermanentFailure, attempts: attempts, bus: bus,
            log: log)
        count(outcome, subscription)
    }

    private func count(_ outcome: String, _ subscription: Subscription) {
        metrics.counter(
            "messaging_messages_total", help: "Messages consumed, by outcome",
            labels: ["queue": subscription.queue, "type": subscription.eventType, "outcome": outcome]
        ).increment()
    }
}
