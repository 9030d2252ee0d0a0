public import AMQPWire
import Foundation
public import Observability
import Synchronization

/// Serves a Nameko service's RPC methods from Swift, so that Nameko's `ClusterRpcProxy`, an
/// `RpcProxy` in a Nameko service, or ``NamekoRPCClient`` can call them.
///
/// ```swift
/// let server = try await NamekoRPCServer.start(connection: connection, configuration: .init(service: "email"))
/// // def send(self, recipient, subject, body): ...
/// server.register(method: "send", as: SendEmailArgs.self, positional: ["recipient", "subject", "body"]) {
///     args, context in try await mailer.send(args)   // the reply value, any Encodable
/// }
/// try await server.run()   // until the task is cancelled
/// ```
///
/// It declares what a Nameko service declares (docs/wire-formats/nameko.md), so it can run beside
/// Nameko instances of the same service: the topic exchange `nameko-rpc` (durable), the queue
/// `rpc-<service>` (durable, not exclusive, not auto-delete, no arguments) bound with
/// `<service>.*`, and a prefetch equal to ``Configuration/concurrency``. The method is the
/// routing key after `<service>.`; the reply goes to the exchange `nameko-rpc` with the request's
/// `reply_to` as routing key and is `{"result": ..., "error": null}`, or an error object when
/// the method is unknown (`MethodNotFound`), the arguments do not fit (`IncorrectSignature`), the
/// request is not a Nameko request (`MalformedRequest`) or the handler throws. A request is acked
/// only after the broker confirmed its reply; when the reply cannot be published it is requeued.
///
/// A request without `reply_to` cannot be answered (Nameko's own service crashes on it): it is
/// moved, unhandled and whole, to the durable queue `rpc-<service>.error` with the library's
/// failure headers, logged, and acked.
public final class NamekoRPCServer: Sendable {
    public struct Configuration: Sendable {
        /// The Nameko service name.
        public var service: String
        /// Handlers running at once, and the prefetch (Nameko's `max_workers`, default 10).
        public var concurrency: Int
        /// How `Date` values in replies are written.
        public var dateEncoding: NamekoDateEncoding
        /// How many callers' ids a worker's call id stack keeps (Nameko's `PARENT_CALLS_TRACKED`).
        public var parentCallsTracked: Int
        /// The RPC exchange (Nameko's `rpc_exchange`).
        public var exchange: String

        public init(
            service: String, concurrency: Int = 10, dateEncoding: NamekoDateEncoding = .isoString,
            parentCallsTracked: Int = 10, exchange: String = NamekoTopology.rpcExchange
        ) {
            self.service = service
            self.concurrency = concurrency
            self.dateEncoding = dateEncoding
            self.parentCallsTracked = parentCallsTracked
            self.exchange = exchange
        }
    }

    /// A method with its argument and result types erased.
    struct Method: Sendable {
        var run: @Sendable ([NamekoJSON], [String: NamekoJSON], NamekoContext) async throws -> NamekoJSON
    }

    private struct State {
        var methods: [String: Method] = [:]
        var running = false
        var registrationError: MessagingError?
    }

    public let configuration: Configuration
    public let connection: AMQPConnection
    public let logger: Logger
    public let metrics: MetricsRegistry
    /// Publishes replies and error-queue moves with confirms.
    let bus: MessageBus
    private let state = Mutex(State())

    /// The queue the server consumes, `rpc-<service>`.
    public var queue: String { NamekoTopology.rpcQueue(service: configuration.service) }

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

    /// Prepares a server on `connection` (opens its publishing channel). Register methods, then
    /// ``run()``. Throws `.invalidConfiguration` for an empty service name or a concurrency
    /// outside 1...65535.
    public static func start(
        connection: AMQPConnection, configuration: Configuration, logger: Logger? = nil,
        metrics: MetricsRegistry = MetricsRegistry()
    ) async throws -> NamekoRPCServer {
        try ConsumeLoops.check(service: configuration.service, concurrency: configuration.concurrency)
        let logger = logger ?? Logger(label: "\(configuration.service).nameko-rpc")
        let bus = try await MessageBus.start(
            connection: connection, serviceName: configuration.service, logger: logger.labelled("\(logger.label).bus"),
            metrics: metrics)
        return NamekoRPCServer(
            configuration: configuration, connection: connection, bus: bus, logger: logger, metrics: metrics)
    }

    // MARK: Registration

    /// Serves `method`, whose arguments decode as `Arguments`: the request's `kwargs` by name,
    /// and its `args` as the members named in `positional`, in order (the Python signature's
    /// parameter names). The handler's return value is the reply's `result`.
    ///
    /// Arguments that do not bind or decode get an `IncorrectSignature` reply (missing required
    /// argument, too many positional ones, one given twice, a wrong type); unknown keyword
    /// arguments are ignored. An error the handler throws goes back as a remote error: a
    /// ``NamekoRemoteError`` as it is, any other with its Swift type name (see there).
    public func register<Arguments: Decodable & Sendable, Reply: Encodable & Sendable>(
        method: String, as arguments: Arguments.Type, positional: [String] = [],
        handler: @escaping @Sendable (Arguments, NamekoContext) async throws -> Reply
    ) {
        let dates = configuration.dateEncoding
        add(
            method,
            Method { args, kwargs, context in
                let bound = try NamekoRPCMessages.bind(
                    args: args, kwargs: kwargs, positional: positional, method: method)
                let value = try NamekoRPCMessages.decodeArguments(Arguments.self, from: bound, method: method)
                let result = try await handler(value, context)
                do {
                    return try NamekoCoding.encode(result, dates: dates)
                } catch {
                    // Nameko's reply for a result its serializer refuses.
                    throw NamekoRemoteError(
                        excType: "UnserializableValueError", excPath: "nameko.exceptions.UnserializableValueError",
                        excArgs: [], value: "Unserializable value: `\(result)`")
                }
            })
    }

    /// Serves `method` for a handler that returns nothing: the reply's `result` is `null`, as
    /// for a Python method without a return value.
    public func register<Arguments: Decodable & Sendable>(
        method: String, as arguments: Arguments.Type, positional: [String] = [],
        handler: @escaping @Sendable (Arguments, NamekoContext) async throws -> Void
    ) {
        register(method: method, as: arguments, positional: positional) { args, context -> NamekoJSONNull in
            try await handler(args, context)
            return NamekoJSONNull()
        }
    }

    /// Serves the typed method `P` (its ``NamekoProcedure/method`` and positional parameters).
    public func respond<P: NamekoProcedure>(
        to procedure: P.Type, handler: @escaping @Sendable (P, NamekoContext) async throws -> P.Reply
    ) {
        register(method: P.method, as: P.self, positional: P.positionalParameters, handler: handler)
    }

    private func add(_ name: String, _ method: Method) {
        state.withLock { s in
            if s.running {
                s.registrationError = MessagingError(
                    .invalidConfiguration, "method '\(name)' was registered after run() started")
            } else if name.isEmpty || name.contains(".") {
                // The queue is bound with `<service>.*`: a dot in the method name is never routed.
                s.registrationError = MessagingError(
                    .invalidConfiguration, "'\(name)' cannot be a Nameko method name (empty, or contains a dot)")
            } else if s.methods[name] != nil {
                s.registrationError = MessagingError(.invalidConfiguration, "method '\(name)' has two handlers")
            }
            s.methods[name] = method
        }
    }

    /// The registered method names.
    public var methods: [String] { state.withLock { $0.methods.keys.sorted() } }

    // MARK: Running

    /// Declares the exchange and queue, consumes requests and answers them until the calling task
    /// is cancelled; then stops consuming, lets the calls in flight finish and be answered and
    /// acked, closes its channel and returns.
    ///
    /// Throws `.invalidConfiguration` for a bad registration, the broker's error when the topology
    /// cannot be declared (a `rpc-<service>` queue declared with other flags: 406), and the
    /// consumer's error when it fails for good.
    public func run() async throws {
        let methods = try state.withLock { s throws(MessagingError) -> [String: Method] in
            if let error = s.registrationError { throw error }
            guard !s.running else { throw MessagingError(.invalidConfiguration, "run() is already running") }
            guard !s.methods.isEmpty else { throw MessagingError(.invalidConfiguration, "no method is registered") }
            s.running = true
            return s.methods
        }
        do {
            try await serve(methods)
        } catch {
            await bus.close()
            throw error
        }
        await bus.close()
    }

    private func serve(_ methods: [String: Method]) async throws {
        let service = configuration.service
        let failures = NamekoFailureRouting(queue: queue, delays: [])
        let channel = try await connection.openChannel()
        try await channel.declareExchange(configuration.exchange, type: .topic, durable: true)
        try await channel.declareQueue(queue, durable: true)
        try await channel.bindQueue(
            queue, to: configuration.exchange, routingKey: NamekoTopology.rpcBindingKey(service: service))
        try await failures.declare(on: channel)
        try await channel.setPrefetch(count: UInt16(configuration.concurrency))
        let consumer = try await channel.consume(queue: queue, bufferCapacity: configuration.concurrency)
        logger.info(
            "serving Nameko RPC",
            metadata: [
                "queue": queue, "methods": methods.keys.sorted().joined(separator: ","),
                "concurrency": String(configuration.concurrency),
            ])
        try await ConsumeLoops.runUntilCancelled([
            .init(consumer: consumer, channel: channel) { delivery in
                await self.process(delivery, methods: methods, failures: failures)
            }
        ])
        logger.info("stopped")
    }

    // MARK: One request

    private func process(_ delivery: AMQPDelivery, methods: [String: Method], failures: NamekoFailureRouting) async {
        var log = logger
        log[metadata: "routing-key"] = delivery.routingKey
        if let correlation = delivery.properties.correlationID { log[metadata: "correlation-id"] = correlation }
        guard let replyTo = delivery.properties.replyTo, !replyTo.isEmpty else {
            count("unanswerable", "(no reply_to)")
            log.error("a request without reply_to cannot be answered; moving it to the error queue")
            let error = NamekoRemoteError.malformedRequest("the request has no reply_to, so it cannot be answered")
            await failures.settle(delivery, error: error, permanent: true, attempts: 0, bus: bus, log: log)
            return
        }
        let name = methodName(delivery.routingKey)
        // Metrics are labelled by method only for methods the server has: callers choose routing keys.
        let type = methods[name] == nil ? "(unknown method)" : delivery.routingKey
        let duration = metrics.histogram(
            "messaging_handler_duration_seconds", help: "Handler run time", labels: ["queue": queue, "type": type])
        let outcome = await duration.time { await answer(delivery, method: name, methods: methods, log: log) }
        let body: [UInt8]
        switch outcome {
        case .success(let result):
            body = NamekoRPCMessages.replyBody(result: result)
        case .failure(let error):
            log.warning("the call failed", metadata: ["error": error.description])
            body = NamekoRPCMessages.replyBody(error: error)
        }
        do {
            // Not mandatory, as in Nameko: a caller that gave up and took its queue along is not an error.
            try await bus.publishConfirmed(
                OutgoingMessage(
                    body: body,
                    properties: NamekoRPCMessages.replyProperties(correlationID: delivery.properties.correlationID)),
                exchange: configuration.exchange, routingKey: replyTo, mandatory: false,
                messageType: delivery.routingKey)
        } catch {
            log.error("could not send the reply; requeueing the request", metadata: ["error": "\(error)"])
            try? delivery.reject(requeue: true)
            return
        }
        count(outcome.isSuccess ? "handled" : "failed", type)
        ConsumeLoops.acknowledge(delivery, log: log)
    }

    /// The method a routing key names: what follows `<service>.` (Nameko takes the last
    /// dot-separated part of a key that does not start so, for its `MethodNotFound`).
    private func methodName(_ routingKey: String) -> String {
        let prefix = "\(configuration.service)."
        if routingKey.hasPrefix(prefix) { return String(routingKey.dropFirst(prefix.count)) }
        return String(routingKey.split(separator: ".").last ?? "")
    }

    /// The reply's result, or the error object to send instead. The checks come in Nameko's
    /// order: the body must be JSON, then the method must exist, then the envelope be right.
    private func answer(
        _ delivery: AMQPDelivery, method name: String, methods: [String: Method], log: Logger
    ) async -> Result<NamekoJSON, NamekoRemoteError> {
        let arguments: (args: [NamekoJSON], kwargs: [String: NamekoJSON])
        let method: Method
        do throws(NamekoRemoteError) {
            let json = try NamekoRPCMessages.parseBody(delivery.body, contentType: delivery.properties.contentType)
            guard delivery.routingKey.hasPrefix("\(configuration.service)."), let found = methods[name] else {
                throw NamekoRemoteError.methodNotFound(name)
            }
            method = found
            arguments = try NamekoRPCMessages.envelope(of: json)
        } catch {
            return .failure(error)
        }
        let context = NamekoContext(
            service: configuration.service, method: name, headers: delivery.properties.headers,
            parentCallsTracked: configuration.parentCallsTracked, correlationID: delivery.properties.correlationID,
            isRedelivery: delivery.redelivered, attempt: 1, logger: log)
        do {
            return .success(try await method.run(arguments.args, arguments.kwargs, context))
        } catch {
            return .failure(NamekoRemoteError(from: error))
        }
    }

    private func count(_ outcome: String, _ type: String) {
        metrics.counter(
            "messaging_messages_total", help: "Messages consumed, by outcome",
            labels: ["queue": queue, "type": type, "outcome": outcome]
        ).increment()
    }
}

/// The `null` result of a method that returns nothing.
struct NamekoJSONNull: Encodable, Sendable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encodeNil()
    }
}

extension Result {
    fileprivate var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
