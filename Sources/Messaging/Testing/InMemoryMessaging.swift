import Foundation
public import Observability
import Synchronization

/// The messaging contracts without a broker, for unit tests of a service's handlers (like
/// MassTransit's test harness): register handlers as on ``MessagingService``, send and publish as
/// with ``MessageBus``, then await what was handled.
///
/// ```swift
/// let messaging = InMemoryMessaging()
/// EmailHandlers(mailer: fake).register(on: messaging)
/// try await messaging.send(SendEmail(subject: "Hi", body: "…", recipient: "ann@example.com"))
/// let handled = try await messaging.handled(SendEmail.self)
/// let events = try await messaging.published(EmailSent.self)
/// ```
///
/// The same contracts as over RabbitMQ: every value goes through the wire format (so a type that
/// does not round-trip fails here too); a command or call nobody handles is `.unroutable`;
/// handlers run concurrently with the sender; failures follow the ``RetryPolicy`` (immediate
/// retries, then the delayed rounds, run without waiting) and end in ``deadLettered``; a
/// `PermanentFailure` or an undecodable value goes there at once; RPC errors come back `.remote`.
public final class InMemoryMessaging: MessageSender, HandlerRegistry {
    /// A message that ended where a service's error queue would hold it.
    public struct DeadLetter: Sendable {
        public var messageType: String
        public var metadata: MessageMetadata
        public var errorType: String
        public var errorMessage: String
        public var attempts: Int
    }

    private struct Handler: Sendable {
        var run: @Sendable (IncomingMessage, MessageContext) async throws -> IncomingMessage?
    }

    private struct State {
        var commands: [String: Handler] = [:]
        var subscribers: [String: [Handler]] = [:]
        var responders: [String: Handler] = [:]
        var handled: [(type: String, message: IncomingMessage)] = []
        var published: [(type: String, message: IncomingMessage)] = []
        var deadLetters: [DeadLetter] = []
        var inFlight = 0
    }

    public let serviceName: String
    public let retry: RetryPolicy
    public let logger: Logger
    private let format = NativeWireFormat()
    private let state = Mutex(State())

    public init(serviceName: String = "in-memory", retry: RetryPolicy = RetryPolicy(), logger: Logger? = nil) {
        self.serviceName = serviceName
        self.retry = retry
        self.logger = logger ?? Logger(label: "in-memory", level: .warning)
    }

    // MARK: HandlerRegistry

    public func handle<C: Command>(
        _ type: C.Type, queue: String?, format: (any WireFormat)?,
        handler: @escaping @Sendable (C, MessageContext) async throws -> Void
    ) {
        let entry = erase(type) { value, context in
            try await handler(value, context)
            return nil
        }
        state.withLock { $0.commands[C.messageType] = entry }
    }

    public func subscribe<E: Event>(
        to type: E.Type, broadcast: Bool, handler: @escaping @Sendable (E, MessageContext) async throws -> Void
    ) {
        let entry = erase(type) { value, context in
            try await handler(value, context)
            return nil
        }
        state.withLock { $0.subscribers[E.messageType, default: []].append(entry) }
    }

    public func respond<R: RemoteProcedure>(
        to type: R.Type, handler: @escaping @Sendable (R, MessageContext) async throws -> R.Reply
    ) {
        let entry = erase(type) { value, context in
            let reply = try await handler(value, context)
            return IncomingMessage(
                body: try RPCReply.success(reply, requestType: R.messageType, correlationID: nil).body,
                properties: .init(), exchange: "", routingKey: "")
        }
        state.withLock { $0.responders[R.messageType] = entry }
    }

    private func erase<M: MessageContract>(
        _ type: M.Type, _ body: @escaping @Sendable (M, MessageContext) async throws -> IncomingMessage?
    ) -> Handler {
        let format = self.format
        return Handler { message, context in
            let value: M
            do {
                value = try format.decode(M.self, from: message)
            } catch {
                throw UndecodableMessage(description: "\(error)")
            }
            return try await body(value, context)
        }
    }

    // MARK: MessageSender

    public func send<C: Command>(
        _ command: C, queue: String?, format: (any WireFormat)?, metadata: MessageMetadata?
    ) async throws {
        let message = try encode(command, metadata)
        guard let handler = state.withLock({ $0.commands[C.messageType] }) else {
            throw MessagingError(.unroutable, "no handler is registered for \(C.messageType)")
        }
        dispatch(message, type: C.messageType, to: handler)
    }

    public func publish<E: Event>(_ event: E, metadata: MessageMetadata?, requireSubscriber: Bool) async throws {
        let message = try encode(event, metadata)
        let subscribers = state.withLock { s in
            s.published.append((E.messageType, message))
            return s.subscribers[E.messageType] ?? []
        }
        if subscribers.isEmpty && requireSubscriber {
            throw MessagingError(.unroutable, "nobody subscribes to \(E.messageType)")
        }
        for handler in subscribers { dispatch(message, type: E.messageType, to: handler) }
    }

    public func call<R: RemoteProcedure>(
        _ request: R, timeout: Duration?, metadata: MessageMetadata?
    ) async throws -> R.Reply {
        let message = try encode(request, metadata)
        guard let handler = state.withLock({ $0.responders[R.messageType] }) else {
            throw MessagingError(.unroutable, "no service answers \(R.messageType)")
        }
        var context = try self.context(for: message, attempt: 1)
        context.isLastAttempt = true
        do {
            let reply = try await handler.run(message, context)
            record(handled: R.messageType, message)
            return try NativeWireFormat.decodeJSON(R.Reply.self, from: reply?.body ?? [], what: "reply")
        } catch let error as UndecodableMessage {
            throw MessagingError(.remote, error.description, remoteType: "UndecodableMessage")
        } catch {
            throw MessagingError(
                .remote, String(describing: error), remoteType: String(reflecting: type(of: error)))
        }
    }

    // MARK: Running handlers

    private func encode<M: MessageContract>(_ value: M, _ metadata: MessageMetadata?) throws -> IncomingMessage {
        var metadata = metadata ?? MessageMetadata(messageType: M.messageType)
        metadata.appID = metadata.appID ?? serviceName
        let outgoing = try format.encode(value, metadata: metadata)
        return IncomingMessage(body: outgoing.body, properties: outgoing.properties, exchange: "", routingKey: "")
    }

    private func context(for message: IncomingMessage, attempt: Int) throws -> MessageContext {
        MessageContext(
            metadata: try format.metadata(of: message), isRedelivery: attempt > 1, attempt: attempt,
            queue: "in-memory", logger: logger)
    }

    private func dispatch(_ message: IncomingMessage, type: String, to handler: Handler) {
        state.withLock { $0.inFlight += 1 }
        Task {
            await self.run(message, type: type, handler: handler)
            self.state.withLock { $0.inFlight -= 1 }
        }
    }

    private func run(_ message: IncomingMessage, type: String, handler: Handler) async {
        let rounds = retry.delays.count + 1
        let tries = retry.immediateRetries + 1
        var attempt = 0
        var lastError: any Error = Rejected("not run")
        rounds: for round in 0..<rounds {
            for try_ in 0..<tries {
                attempt += 1
                do {
                    var context = try context(for: message, attempt: attempt)
                    context.isLastAttempt = round == rounds - 1 && try_ == tries - 1
                    _ = try await handler.run(message, context)
                    record(handled: type, message)
                    return
                } catch {
                    lastError = error
                    if error is any PermanentFailure || error is MessagingError { break rounds }
                }
            }
        }
        let metadata = (try? format.metadata(of: message)) ?? MessageMetadata(messageID: "", messageType: type)
        state.withLock {
            $0.deadLetters.append(
                DeadLetter(
                    messageType: type, metadata: metadata, errorType: String(reflecting: Swift.type(of: lastError)),
                    errorMessage: String(describing: lastError), attempts: attempt))
        }
    }

    private func record(handled type: String, _ message: IncomingMessage) {
        state.withLock { $0.handled.append((type, message)) }
    }

    // MARK: Awaiting results

    /// Waits until `count` messages of type `M` were handled successfully, and returns them.
    /// Throws `.timeout` after `timeout`.
    public func handled<M: MessageContract>(
        _ type: M.Type, count: Int = 1, timeout: Duration = .seconds(5)
    ) async throws -> [M] {
        try await waitFor(timeout, "\(count) handled \(M.messageType)") { s in
            let matching = s.handled.filter { $0.type == M.messageType }
            return matching.count >= count ? matching.map(\.message) : nil
        }.map { try format.decode(M.self, from: $0) }
    }

    /// Waits until `count` events of type `E` were published (by anyone, handlers included).
    public func published<E: Event>(_ type: E.Type, count: Int = 1, timeout: Duration = .seconds(5)) async throws
        -> [E]
    {
        try await waitFor(timeout, "\(count) published \(E.messageType)") { s in
            let matching = s.published.filter { $0.type == E.messageType }
            return matching.count >= count ? matching.map(\.message) : nil
        }.map { try format.decode(E.self, from: $0) }
    }

    /// Waits until `count` messages ended in the (in-memory) error queue.
    public func deadLettered(count: Int = 1, timeout: Duration = .seconds(5)) async throws -> [DeadLetter] {
        try await waitFor(timeout, "\(count) dead-lettered") { s in
            s.deadLetters.count >= count ? s.deadLetters : nil
        }
    }

    /// Waits until no handler is running.
    public func idle(timeout: Duration = .seconds(5)) async throws {
        _ = try await waitFor(timeout, "all handlers to finish") { s in s.inFlight == 0 ? true : nil }
    }

    private func waitFor<T: Sendable>(
        _ timeout: Duration, _ what: String, _ check: @escaping @Sendable (State) -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let result = state.withLock({ check($0) }) { return result }
            guard ContinuousClock.now < deadline else {
                throw MessagingError(.timeout, "waited \(timeout) for \(what)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
