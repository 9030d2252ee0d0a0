public import AMQPWire
import Foundation
public import Observability
import Synchronization

/// A service: the messages it handles, declared in one place, consumed until it is cancelled.
///
/// ```swift
/// let service = try await MessagingService.start(connection: connection, configuration: .init(name: "email-service"))
/// service.handle(SendEmail.self) { command, context in try await mailer.send(command) }
/// service.respond(to: DeliverEmail.self) { request, context in try await mailer.deliver(request) }
/// service.subscribe(to: UserRegistered.self) { event, context in … }
/// try await service.run()   // until the task is cancelled (SIGTERM/SIGINT in the executables)
/// ```
///
/// Delivery guarantees: prefetch equals ``Configuration/concurrency``, so at most that many
/// handlers run at once; a message is acked only after its handler succeeds (or after it was
/// safely moved to a delay or error queue, confirmed by the broker); when moving it fails, it is
/// requeued, so a message is never lost, though it may be handled twice (handlers should be
/// idempotent: ``MessageContext/isRedelivery``, ``RecentMessageIDs``).
public final class MessagingService: Sendable {
    public struct Configuration: Sendable {
        /// The service name: its command queue, RPC queue and event subscription queue prefix.
        public var name: String
        /// Handlers running at once per queue, and the prefetch of each queue's consumer.
        public var concurrency: Int
        public var retry: RetryPolicy
        /// Classic or quorum for the durable queues (commands, subscriptions, error queues).
        public var queueKind: QueueKind
        /// The command queue's name when it is not the service name (e.g. a tutorial's queue name).
        public var commandQueue: String?
        public var format: any WireFormat
        public var rpcTimeout: Duration

        public init(
            name: String, concurrency: Int = 10, retry: RetryPolicy = RetryPolicy(), queueKind: QueueKind = .classic,
            commandQueue: String? = nil, format: any WireFormat = NativeWireFormat(),
            rpcTimeout: Duration = .seconds(30)
        ) {
            self.name = name
            self.concurrency = concurrency
            self.retry = retry
            self.queueKind = queueKind
            self.commandQueue = commandQueue
            self.format = format
            self.rpcTimeout = rpcTimeout
        }
    }

    public let configuration: Configuration
    public let connection: AMQPConnection
    /// Publishes commands and events and calls other services, e.g. from handlers.
    public let bus: MessageBus
    public let logger: Logger
    public let metrics: MetricsRegistry

    private struct State {
        var registrations: [String: QueueRegistration] = [:]
        var running = false
        var registrationError: MessagingError?
    }

    private let state = Mutex(State())

    private init(
        connection: AMQPConnection, configuration: Configuration, bus: MessageBus, logger: Logger,
        metrics: MetricsRegistry
    ) {
        self.connection = connection
        self.configuration = configuration
        self.bus = bus
        self.logger = logger
        self.metrics = metrics
    }

    /// Prepares a service on `connection` (opens its bus). Register handlers, then ``run()``.
    public static func start(
        connection: AMQPConnection, configuration: Configuration, logger: Logger? = nil,
        metrics: MetricsRegistry = MetricsRegistry()
    ) async throws -> MessagingService {
        try ConsumeLoops.check(service: configuration.name, concurrency: configuration.concurrency)
        let logger = logger ?? Logger(label: configuration.name)
        let bus = try await MessageBus.start(
            connection: connection, serviceName: configuration.name, format: configuration.format,
            defaultTimeout: configuration.rpcTimeout, logger: logger.labelled("\(configuration.name).bus"),
            metrics: metrics)
        return MessagingService(
            connection: connection, configuration: configuration, bus: bus, logger: logger, metrics: metrics)
    }

    // MARK: Registration

    /// Handles command `C` from this service's command queue, or from `queue` in `format` (for
    /// example a tutorial's queue name in PyMessagingFramework's format; one queue, one format).
    public func handle<C: Command>(
        _ type: C.Type, queue: String? = nil, format: (any WireFormat)? = nil,
        handler: @escaping @Sendable (C, MessageContext) async throws -> Void
    ) {
        let queue = queue ?? configuration.commandQueue ?? Topology.commandQueue(service: configuration.name)
        register(queue: queue, kind: .commands, format: format, handler: Self.erase(type, handler))
    }

    /// Subscribes to event `E`. By default one durable queue per service and event type shares
    /// the events among this service's instances (competing consumers); with `broadcast`, every
    /// instance gets every event on an exclusive queue of its own that goes away with it.
    public func subscribe<E: Event>(
        to type: E.Type, broadcast: Bool = false, handler: @escaping @Sendable (E, MessageContext) async throws -> Void
    ) {
        let queue =
            broadcast
            ? "\(configuration.name).\(E.messageType).\(UUID().uuidString.prefix(8).lowercased())"
            : Topology.eventQueue(subscriber: configuration.name, messageType: E.messageType)
        register(
            queue: queue,
            kind: .subscription(
                exchange: Topology.eventExchange(source: E.source), routingKey: E.messageType, broadcast: broadcast),
            format: nil, handler: Self.erase(type, handler))
    }

    /// Answers remote procedure `R`. A thrown error goes back to the caller as a remote error
    /// (its type name and description); there are no retries, the caller decides.
    public func respond<R: RemoteProcedure>(
        to type: R.Type, handler: @escaping @Sendable (R, MessageContext) async throws -> R.Reply
    ) {
        let erased = AnyHandler(messageType: R.messageType, isRPC: true) { message, context, format in
            let request: R
            do {
                request = try format.decode(R.self, from: message)
            } catch {
                throw UndecodableMessage(description: "\(error)")
            }
            let reply = try await handler(request, context)
            return .reply(
                try RPCReply.success(
                    reply, requestType: R.messageType, correlationID: message.properties.correlationID))
        }
        register(queue: Topology.rpcQueue(service: configuration.name), kind: .rpc, format: nil, handler: erased)
    }

    private static func erase<M: MessageContract>(
        _ type: M.Type, _ handler: @escaping @Sendable (M, MessageContext) async throws -> Void
    ) -> AnyHandler {
        AnyHandler(messageType: M.messageType, isRPC: false) { message, context, format in
            let value: M
            do {
                value = try format.decode(M.self, from: message)
            } catch {
                throw UndecodableMessage(description: "\(error)")
            }
            try await handler(value, context)
            return .done
        }
    }

    private func register(
        queue: String, kind: QueueRegistration.Kind, format: (any WireFormat)?, handler: AnyHandler
    ) {
        let format = format ?? configuration.format
        state.withLock { s in
            if s.running {
                s.registrationError = MessagingError(
                    .invalidConfiguration, "\(handler.messageType) was registered after run() started")
                return
            }
            var registration =
                s.registrations[queue] ?? QueueRegistration(queue: queue, kind: kind, format: format)
            if type(of: registration.format) != type(of: format) {
                s.registrationError = MessagingError(
                    .invalidConfiguration, "queue '\(queue)' was registered with two wire formats")
            }
            if registration.handlers[handler.messageType] != nil {
                s.registrationError = MessagingError(
                    .invalidConfiguration, "\(handler.messageType) has two handlers on queue '\(queue)'")
            }
            registration.handlers[handler.messageType] = handler
            s.registrations[queue] = registration
        }
    }

    /// The queues this service will consume, for logs and tests.
    public var queues: [String] { state.withLock { $0.registrations.keys.sorted() } }

    // MARK: Running

    /// Declares the topology, consumes every registered queue and runs handlers until the calling
    /// task is cancelled. Then it shuts down gracefully: consumers are cancelled, handlers in flight
    /// finish and are acked, the channels close, and `run()` returns.
    ///
    /// Throws when the topology cannot be declared or a consumer fails for good (the connection
    /// closed and could not be recovered).
    public func run() async throws {
        let registrations = try state.withLock { s throws(MessagingError) -> [QueueRegistration] in
            if let error = s.registrationError { throw error }
            guard !s.running else { throw MessagingError(.invalidConfiguration, "run() is already running") }
            s.running = true
            return s.registrations.values.sorted { $0.queue < $1.queue }
        }
        guard !registrations.isEmpty else {
            throw MessagingError(.invalidConfiguration, "the service registered no handlers")
        }
        var workers: [QueueWorker] = []
        do {
            for registration in registrations {
                workers.append(try await QueueWorker.start(registration, service: self))
            }
        } catch {
            // Those already consuming stop with their channels.
            for worker in workers { try? await worker.channel.close() }
            throw error
        }
        logger.info(
            "consuming",
            metadata: [
                "queues": registrations.map(\.queue).joined(separator: ","),
                "concurrency": String(configuration.concurrency),
            ])
        try await ConsumeLoops.runUntilCancelled(workers.map(\.loop))
        logger.info("stopped consuming")
    }
}
