public import AMQPWire
import Foundation
public import Observability
import Synchronization

/// Calls Nameko services' RPC methods from Swift, as Nameko's `ClusterRpcProxy` does.
///
/// ```swift
/// let client = try await NamekoRPCClient.start(connection: connection)
/// let greeting = try await client.call(Hello(name: "Bob", punctuation: "?"))          // a NamekoProcedure
/// let sum: Int = try await client.call(service: "calc", method: "add", arguments: ["a": 1, "b": 2])
/// ```
///
/// Replies come to one exclusive, server-named queue per client, bound to `nameko-rpc` with its
/// own name as routing key (that name is every request's `reply_to`); requests go to `nameko-rpc`
/// with routing key `<service>.<method>`, `mandatory`, and wait for the broker's confirm.
///
/// Every call has a timeout. Errors are ``MessagingError``s: `.unroutable` at once when no
/// service of that name is running (no queue is bound for it), `.timeout` when no reply comes
/// in time (the request also expires in the queue then, and a late reply is discarded),
/// `.remote` when the method raised (``MessagingError/remoteType`` is the exception's class
/// name, ``MessagingError/message`` its text, and ``MessagingError/underlying`` the whole
/// ``NamekoRemoteError``), and `.serialization` when the arguments or the result do not fit.
public final class NamekoRPCClient: Sendable {
    public let connection: AMQPConnection
    /// The first part of the call ids this client sends (`<name>.call.<uuid>`).
    public let name: String
    /// The timeout of a call that names none.
    public let defaultTimeout: Duration
    /// How `Date` values in arguments are written.
    public let dateEncoding: NamekoDateEncoding
    /// The RPC exchange.
    public let exchange: String
    /// The routing key replies come back with: the reply queue's name, sent as `reply_to`.
    public let replyTo: String
    let logger: Logger
    let metrics: MetricsRegistry

    private let bus: MessageBus
    private let replyChannel: AMQPChannel
    private let pending = Mutex<[String: OneShot<AMQPDelivery>]>([:])
    private let replyReader = Mutex<Task<Void, Never>?>(nil)

    private init(
        connection: AMQPConnection, name: String, defaultTimeout: Duration, dateEncoding: NamekoDateEncoding,
        exchange: String, replyTo: String, logger: Logger, metrics: MetricsRegistry, bus: MessageBus,
        replyChannel: AMQPChannel
    ) {
        self.connection = connection
        self.name = name
        self.defaultTimeout = defaultTimeout
        self.dateEncoding = dateEncoding
        self.exchange = exchange
        self.replyTo = replyTo
        self.logger = logger
        self.metrics = metrics
        self.bus = bus
        self.replyChannel = replyChannel
    }

    /// Declares the reply queue and opens the client's channels.
    public static func start(
        connection: AMQPConnection, name: String = "swift_rpc_client", defaultTimeout: Duration = .seconds(30),
        dateEncoding: NamekoDateEncoding = .isoString, exchange: String = NamekoTopology.rpcExchange,
        logger: Logger? = nil, metrics: MetricsRegistry = MetricsRegistry()
    ) async throws -> NamekoRPCClient {
        let logger = logger ?? Logger(label: "\(name).nameko-rpc")
        let channel = try await connection.openChannel()
        // The same declaration as a Nameko service's, so it never conflicts (406) with theirs.
        try await channel.declareExchange(exchange, type: .topic, durable: true)
        let replyQueue = try await channel.declareQueue(exclusive: true).name
        try await channel.bindQueue(replyQueue, to: exchange, routingKey: replyQueue)
        let replies = try await channel.consume(queue: replyQueue, noAck: true)
        let bus = try await MessageBus.start(
            connection: connection, serviceName: name, logger: logger.labelled("\(logger.label).bus"), metrics: metrics)
        let client = NamekoRPCClient(
            connection: connection, name: name, defaultTimeout: defaultTimeout, dateEncoding: dateEncoding,
            exchange: exchange, replyTo: replyQueue, logger: logger, metrics: metrics, bus: bus, replyChannel: channel)
        client.replyReader.withLock { $0 = Task { await client.readReplies(replies) } }
        return client
    }

    /// Stops reading replies (pending calls fail with `.notRunning`) and closes the channels;
    /// the reply queue goes with them.
    public func close() async {
        replyReader.withLock { $0 }?.cancel()
        failPending(MessagingError(.notRunning, "the Nameko RPC client was closed"))
        try? await replyChannel.close()
        await bus.close()
    }

    // MARK: Calls

    /// Calls the typed method `P` and returns its reply.
    ///
    /// Pass the handler's `context` when calling from inside a Nameko handler, so the call id
    /// stack and context data travel on.
    public func call<P: NamekoProcedure>(
        _ request: P, timeout: Duration? = nil, context: NamekoContext? = nil
    ) async throws -> P.Reply {
        try await call(
            service: P.service, method: P.method, arguments: request, positional: P.positionalParameters,
            returning: P.Reply.self, timeout: timeout, context: context)
    }

    /// Calls `service.method` with `arguments` (a struct or dictionary: its members are the
    /// keyword arguments, except those named in `positional`, sent positionally in that order)
    /// and decodes the result as `Reply` (kombu's `__type__` wrappers unwrapped).
    public func call<Arguments: Encodable & Sendable, Reply: Decodable & Sendable>(
        service: String, method: String, arguments: Arguments, positional: [String] = [],
        returning: Reply.Type = Reply.self, timeout: Duration? = nil, context: NamekoContext? = nil
    ) async throws -> Reply {
        let routingKey = NamekoTopology.rpcRoutingKey(service: service, method: method)
        let timeout = timeout ?? defaultTimeout
        let members: [String: NamekoJSON]
        do {
            guard case .object(let object) = try NamekoCoding.encode(arguments, dates: dateEncoding) else {
                throw MessagingError(.serialization, "the arguments must encode as a JSON object (a struct)")
            }
            members = object
        } catch let error as MessagingError {
            throw error
        } catch {
            throw MessagingError(
                .serialization, "cannot encode the arguments of \(routingKey): \(error)", underlying: error)
        }
        let correlation = UUID().uuidString.lowercased()
        let headers: FieldTable
        if let context {
            headers = context.outgoingHeaders
        } else {
            headers = [
                NamekoTopology.callIDStackHeader: .array([.string("\(name).call.\(UUID().uuidString.lowercased())")])
            ]
        }
        let properties = NamekoRPCMessages.requestProperties(
            correlationID: correlation, replyTo: replyTo, headers: headers,
            expirationMilliseconds: Self.milliseconds(timeout))
        let body = NamekoRPCMessages.requestBody(arguments: members, positional: positional)

        let slot = OneShot<AMQPDelivery>()
        pending.withLock { $0[correlation] = slot }
        defer { pending.withLock { _ = $0.removeValue(forKey: correlation) } }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            slot.fulfil(.failure(MessagingError(.timeout, "no reply from \(routingKey) within \(timeout)")))
        }
        defer { timer.cancel() }
        do {
            try await bus.publishConfirmed(
                OutgoingMessage(body: body, properties: properties), exchange: exchange, routingKey: routingKey,
                mandatory: true, messageType: routingKey)
        } catch let error as MessagingError where error.code == .unroutable {
            throw MessagingError(
                .unroutable,
                "no Nameko service '\(service)' is running: no queue is bound for '\(routingKey)' on '\(exchange)'",
                underlying: error)
        }
        let reply = try await withTaskCancellationHandler {
            try await slot.value()
        } onCancel: {
            slot.fulfil(.failure(CancellationError()))
        }
        return try Self.decodeReply(reply, as: Reply.self, routingKey: routingKey)
    }

    static func decodeReply<Reply: Decodable>(
        _ reply: AMQPDelivery, as type: Reply.Type, routingKey: String
    ) throws -> Reply {
        let outcome: Result<NamekoJSON, NamekoRemoteError>
        do {
            outcome = try NamekoRPCMessages.parseReply(body: reply.body, contentType: reply.properties.contentType)
        } catch {
            throw MessagingError(
                .serialization, "the reply from \(routingKey) is not a Nameko reply: \(error)", underlying: error)
        }
        switch outcome {
        case .failure(let remote):
            throw MessagingError(.remote, remote.value, remoteType: remote.excType, underlying: remote)
        case .success(let result):
            do {
                return try NamekoCoding.decode(type, from: result)
            } catch {
                throw MessagingError(
                    .serialization,
                    "the result of \(routingKey) is not a valid \(Reply.self): \(NativeWireFormat.describe(error))",
                    underlying: error)
            }
        }
    }

    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let total = Double(seconds) * 1000 + Double(attoseconds) / 1e15
        return total >= Double(Int.max) ? Int.max : Int(total.rounded(.up))
    }

    // MARK: Replies

    private func readReplies(_ replies: AMQPConsumer) async {
        do {
            for try await delivery in replies {
                guard let correlation = delivery.properties.correlationID,
                    let slot = pending.withLock({ $0.removeValue(forKey: correlation) })
                else {
                    logger.debug(
                        "discarded a late or unknown reply",
                        metadata: ["correlation-id": delivery.properties.correlationID ?? "(none)"])
                    continue
                }
                slot.fulfil(.success(delivery))
            }
        } catch  where Task.isCancelled {
            // close()
        } catch {
            logger.warning("the Nameko reply consumer ended: \(error)")
        }
        failPending(MessagingError(.notRunning, "the Nameko reply consumer ended"))
    }

    private func failPending(_ error: MessagingError) {
        let slots = pending.withLock { pending in
            defer { pending.removeAll() }
            return Array(pending.values)
        }
        for slot in slots { slot.fulfil(.failure(error)) }
    }
}
