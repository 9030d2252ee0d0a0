public import AMQPWire
import Foundation
public import Observability
import Synchronization

/// Sends commands, publishes events and calls remote procedures, over one AMQP channel in confirm
/// mode.
///
/// Every publish waits for the broker's confirm. Commands and RPC requests are `mandatory`: a
/// message no queue takes is an error (``MessagingError/Code/unroutable``), never silence. Events
/// are not mandatory by default, since an event nobody subscribes to yet is normal; pass
/// `requireSubscriber: true` to make that an error too.
///
/// ```swift
/// let bus = try await MessageBus.start(connection: connection, serviceName: "web-service")
/// try await bus.send(SendEmail(subject: "Hi", body: "…", recipient: "ann@example.com"))
/// let outcome = try await bus.call(DeliverEmail(…), timeout: .seconds(10))
/// ```
public final class MessageBus: Sendable {
    public let connection: AMQPConnection
    /// Written as `app_id` on everything this bus publishes.
    public let serviceName: String
    public let format: any WireFormat
    /// The default timeout of ``call(_:timeout:)``.
    public let defaultTimeout: Duration
    let logger: Logger
    let metrics: MetricsRegistry

    /// Replaced after a nack (see `replaceChannel`); read under the lock, used outside it.
    private let current: Mutex<AMQPChannel>
    private var channel: AMQPChannel { current.withLock { $0 } }
    /// Message ids the broker returned as unroutable, recorded on the I/O thread before the
    /// publish's confirm completes; taken by the publisher. Bounded (see `recordReturn`).
    private let returned = Mutex<[String: AMQPReturnedMessage]>([:])
    private let declaredExchanges = Mutex<Set<String>>([])
    private let publishedCounters = Mutex<[String: Counter]>([:])
    private let replyReader = Mutex<Task<Void, Never>?>(nil)
    /// Fails the calls a connection failure orphaned (see `failOrphanedCalls`).
    private let recoveryWatcher = Mutex<Task<Void, Never>?>(nil)

    private let pendingReplies = Mutex<PendingReplies<OneShot<IncomingMessage>>>(PendingReplies())

    private init(
        connection: AMQPConnection, channel: AMQPChannel, serviceName: String, format: any WireFormat,
        defaultTimeout: Duration, logger: Logger, metrics: MetricsRegistry
    ) {
        self.connection = connection
        self.current = Mutex(channel)
        self.serviceName = serviceName
        self.format = format
        self.defaultTimeout = defaultTimeout
        self.logger = logger
        self.metrics = metrics
    }

    /// Opens the bus's channel on `connection`, in confirm mode and ready for RPC replies.
    public static func start(
        connection: AMQPConnection, serviceName: String, format: any WireFormat = NativeWireFormat(),
        defaultTimeout: Duration = .seconds(30), logger: Logger? = nil, metrics: MetricsRegistry = MetricsRegistry()
    ) async throws -> MessageBus {
        let channel = try await connection.openChannel()
        let bus = MessageBus(
            connection: connection, channel: channel, serviceName: serviceName, format: format,
            defaultTimeout: defaultTimeout, logger: logger ?? Logger(label: "\(serviceName).bus"), metrics: metrics)
        try await bus.prepare(channel)
        bus.watchForRecovery()
        return bus
    }

    deinit { recoveryWatcher.withLock { $0 }?.cancel() }

    /// A request's reply-to (direct reply-to) names the channel it was sent on, so replies to
    /// requests sent before a connection failure can never arrive on the recovered connection.
    /// Their calls fail as soon as the failure is seen, instead of at their timeout. (Only calls
    /// whose request was confirmed count: one still waiting to publish goes out on the new
    /// connection, and one unconfirmed fails with the publish's confirmOutcomeUnknown.)
    private func watchForRecovery() {
        let events = connection.events()
        let task = Task { [weak self] in
            for await event in events {
                guard case .recovering(let cause) = event else { continue }
                self?.failOrphanedCalls(cause)
            }
        }
        recoveryWatcher.withLock { $0 = task }
    }

    private func failOrphanedCalls(_ cause: AMQPError) {
        // Read now, however late this event is handled: a call confirmed on the recovered
        // connection carries the current count and keeps waiting for its reply.
        let failures = connection.failureCount
        let slots = pendingReplies.withLock { $0.takeSent(before: failures) }
        guard !slots.isEmpty else { return }
        logger.warning(
            "the connection failed with RPC calls waiting; their replies are lost",
            metadata: ["calls": "\(slots.count)"])
        let error = MessagingError(
            .replyLost,
            "the connection failed after the request was sent, so its reply cannot arrive; the request may still have been handled (\(cause.message))",
            underlying: cause)
        for slot in slots { slot.fulfil(.failure(error)) }
    }

    /// Confirm mode, the return handler and the direct reply-to consumer, on a new channel.
    private func prepare(_ channel: AMQPChannel) async throws {
        try await channel.enablePublisherConfirms()
        channel.onReturn { [weak self] message in self?.recordReturn(message) }
        // Direct reply-to: replies come straight to this channel's consumer, no reply queue.
        let replies = try await channel.consume(queue: "amq.rabbitmq.reply-to", noAck: true)
        let previous = replyReader.withLock { reader in
            defer { reader = Task { await self.readReplies(replies) } }
            return reader
        }
        previous?.cancel()
    }

    /// Moves the bus to a fresh channel after a nack. RabbitMQ 3.10 can nack every publish on a
    /// channel for good once its first publishes to a quorum queue met a leader election (seen in
    /// the cluster tests), so a nacked channel is not trusted again. Calls waiting for replies on the
    /// old channel fail (their replies went to it).
    private func replaceChannel(after nacked: AMQPChannel) async {
        guard channel === nacked else { return }  // another publisher replaced it already
        do {
            let fresh = try await connection.openChannel()
            try await prepare(fresh)
            let old = current.withLock { current in
                defer { current = fresh }
                return current
            }
            failPendingReplies(MessagingError(.notRunning, "the bus moved to a new channel after a nack"))
            try? await old.close()
            logger.notice("moved to a new channel after the broker nacked a publish")
        } catch {
            logger.warning("could not open a new channel after a nack: \(error)")
        }
    }

    /// Stops reading replies (pending calls fail) and closes the bus's channel.
    public func close() async {
        replyReader.withLock { $0 }?.cancel()
        recoveryWatcher.withLock { $0 }?.cancel()
        failPendingReplies(MessagingError(.notRunning, "the message bus was closed"))
        try? await channel.close()
    }

    // MARK: Commands and events

    /// Sends a command to its destination service's queue (or to `queue`), waiting for the broker
    /// to confirm it. Throws `.unroutable` when that queue does not exist, `.nacked` when the
    /// broker refuses the message, and the AMQP error when the connection fails first (after a
    /// recovery the outcome is unknown: ``AMQPError/Code/confirmOutcomeUnknown``).
    ///
    /// `queue` and `format` override the destination and the bus's format for this one command,
    /// e.g. to reach a PyMessagingFramework service by its queue name.
    public func send<C: Command>(
        _ command: C, queue: String? = nil, format: (any WireFormat)? = nil, metadata: MessageMetadata? = nil
    ) async throws {
        let target = queue ?? Topology.commandQueue(service: C.destination)
        var metadata = metadata ?? MessageMetadata(messageType: C.messageType)
        metadata.appID = metadata.appID ?? serviceName
        let message = try (format ?? self.format).encode(command, metadata: metadata)
        try await publishConfirmed(
            message, exchange: "", routingKey: target, mandatory: true, messageType: C.messageType)
    }

    /// Publishes an event to its source's topic exchange (declared on first use), waiting for the
    /// broker's confirm. With `requireSubscriber`, an event no queue is bound for is an error.
    public func publish<E: Event>(_ event: E, metadata: MessageMetadata? = nil, requireSubscriber: Bool = false)
        async throws
    {
        let exchange = Topology.eventExchange(source: E.source)
        try await declareEventExchange(exchange)
        var metadata = metadata ?? MessageMetadata(messageType: E.messageType)
        metadata.appID = metadata.appID ?? serviceName
        let message = try format.encode(event, metadata: metadata)
        try await publishConfirmed(
            message, exchange: exchange, routingKey: E.messageType, mandatory: requireSubscriber,
            messageType: E.messageType)
    }

    /// Publishes already-encoded bytes with confirm (used for retries, error queues and replies).
    func publishConfirmed(
        _ message: OutgoingMessage, exchange: String, routingKey: String, mandatory: Bool, messageType: String
    ) async throws {
        var properties = message.properties
        // Returns are matched by message id; give every mandatory publish one.
        if mandatory && (properties.messageID ?? "").isEmpty { properties.messageID = UUID().uuidString.lowercased() }
        let id = properties.messageID ?? ""
        let channel = self.channel
        do {
            try await channel.publish(
                message.body, exchange: exchange, routingKey: routingKey, mandatory: mandatory,
                properties: properties
            ).wait()
        } catch let error as AMQPError where error.code == .publishNacked {
            await replaceChannel(after: channel)
            throw MessagingError(
                .nacked, "the broker did not accept \(messageType) for '\(routingKey)': \(error.message)",
                underlying: error)
        }
        if mandatory, let returned = returned.withLock({ $0.removeValue(forKey: id) }) {
            metrics.counter(
                "messaging_unroutable_total", help: "Mandatory publishes no queue took", labels: ["type": messageType]
            ).increment()
            throw MessagingError(
                .unroutable,
                "no queue took \(messageType) (exchange '\(exchange.isEmpty ? "(default)" : exchange)', routing key '\(routingKey)'): \(returned.replyText)"
            )
        }
        publishedCounter(messageType).increment()
    }

    /// The per-type published counter, looked up in the registry once per type rather than on
    /// every publish (the registry builds label text under its lock).
    private func publishedCounter(_ messageType: String) -> Counter {
        if let counter = publishedCounters.withLock({ $0[messageType] }) { return counter }
        let counter = metrics.counter(
            "messaging_published_total", help: "Messages published and confirmed", labels: ["type": messageType])
        publishedCounters.withLock { $0[messageType] = counter }
        return counter
    }

    private func recordReturn(_ message: AMQPReturnedMessage) {
        guard let id = message.properties.messageID else { return }
        returned.withLock { returned in
            // Entries are taken right after the confirm; only publishers that gave up (cancelled)
            // leave theirs. Forget everything rather than grow without bound.
            if returned.count >= 10_000 { returned.removeAll() }
            returned[id] = message
        }
        // A returned RPC request means no server is there: fail the call now, not at its timeout.
        if let correlation = message.properties.correlationID,
            let waiter = pendingReplies.withLock({ $0.remove(correlation) })
        {
            waiter.fulfil(
                .failure(
                    MessagingError(
                        .unroutable,
                        "no service answers '\(message.routingKey)': the request was returned (\(message.replyText))")))
        }
    }

    func declareEventExchange(_ exchange: String) async throws {
        guard !declaredExchanges.withLock({ $0.contains(exchange) }) else { return }
        try await channel.declareExchange(exchange, type: .topic, durable: true)
        declaredExchanges.withLock { _ = $0.insert(exchange) }
    }

    // MARK: RPC

    /// Calls a remote procedure and waits for its typed reply.
    ///
    /// Throws `.unroutable` at once when no server of `R.destination` is running, `.timeout`
    /// when no reply comes within `timeout` (default ``defaultTimeout``; the request also expires
    /// in the queue then), `.remote` carrying the remote error's type and message when the
    /// handler failed, and `.replyLost` as soon as the connection fails after the request went
    /// out (its reply cannot arrive; the request may still have been handled). A reply that
    /// arrives after the timeout is discarded.
    public func call<R: RemoteProcedure>(
        _ request: R, timeout: Duration? = nil, metadata: MessageMetadata? = nil
    ) async throws -> R.Reply {
        let timeout = timeout ?? defaultTimeout
        var metadata = metadata ?? MessageMetadata(messageType: R.messageType)
        metadata.appID = metadata.appID ?? serviceName
        let correlation = UUID().uuidString.lowercased()
        metadata.correlationID = correlation
        var message = try format.encode(request, metadata: metadata)
        message.properties.replyTo = "amq.rabbitmq.reply-to"
        message.properties.expiration = String(max(1, timeout.components.seconds * 1000))
        let slot = OneShot<IncomingMessage>()
        pendingReplies.withLock { $0.add(correlation, slot) }
        defer { pendingReplies.withLock { _ = $0.remove(correlation) } }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            slot.fulfil(
                .failure(
                    MessagingError(
                        .timeout, "no reply to \(R.messageType) from '\(R.destination)' within \(timeout)")))
        }
        defer { timer.cancel() }
        try await publishConfirmed(
            message, exchange: "", routingKey: Topology.rpcQueue(service: R.destination), mandatory: true,
            messageType: R.messageType)
        // Confirmed: from now on a connection failure voids the reply-to address it carries.
        let failures = connection.failureCount
        pendingReplies.withLock { $0.markSent(correlation, failureCount: failures) }
        let reply = try await withTaskCancellationHandler {
            try await slot.value()
        } onCancel: {
            slot.fulfil(.failure(CancellationError()))
        }
        return try RPCReply.decode(R.Reply.self, from: reply, format: format, what: R.messageType)
    }

    private func readReplies(_ replies: AMQPConsumer) async {
        do {
            for try await delivery in replies {
                let incoming = IncomingMessage(
                    body: delivery.body, properties: delivery.properties, exchange: delivery.exchange,
                    routingKey: delivery.routingKey)
                guard let correlation = delivery.properties.correlationID,
                    let slot = pendingReplies.withLock({ $0.remove(correlation) })
                else {
                    logger.debug(
                        "discarded a late or unknown reply",
                        metadata: ["correlation-id": delivery.properties.correlationID ?? "(none)"])
                    continue
                }
                slot.fulfil(.success(incoming))
            }
        } catch {
            logger.warning("the RPC reply consumer ended: \(error)")
        }
        // A reader replaced by a newer channel's (cancelled) must not fail the calls now waiting there.
        if !Task.isCancelled { failPendingReplies(MessagingError(.notRunning, "the RPC reply consumer ended")) }
    }

    private func failPendingReplies(_ error: MessagingError) {
        let slots = pendingReplies.withLock { pending in
            defer { pending = PendingReplies() }
            return Array(pending.slots.values)
        }
        for slot in slots { slot.fulfil(.failure(error)) }
    }
}
