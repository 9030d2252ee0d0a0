/// Sends commands, publishes events and calls remote procedures: ``MessageBus`` over RabbitMQ,
/// ``InMemoryMessaging`` in tests. Code written against this protocol runs on either.
public protocol MessageSender: Sendable {
    func send<C: Command>(
        _ command: C, queue: String?, format: (any WireFormat)?, metadata: MessageMetadata?
    ) async throws
    func publish<E: Event>(_ event: E, metadata: MessageMetadata?, requireSubscriber: Bool) async throws
    func call<R: RemoteProcedure>(_ request: R, timeout: Duration?, metadata: MessageMetadata?) async throws -> R.Reply
}

extension MessageSender {
    public func send<C: Command>(_ command: C, metadata: MessageMetadata? = nil) async throws {
        try await send(command, queue: nil, format: nil, metadata: metadata)
    }
    public func publish<E: Event>(_ event: E, metadata: MessageMetadata? = nil) async throws {
        try await publish(event, metadata: metadata, requireSubscriber: false)
    }
    public func call<R: RemoteProcedure>(_ request: R, timeout: Duration? = nil) async throws -> R.Reply {
        try await call(request, timeout: timeout, metadata: nil)
    }
}

/// Where a service registers its handlers: ``MessagingService`` over RabbitMQ, ``InMemoryMessaging``
/// in tests. A service that registers through this protocol is unit-tested without a broker.
public protocol HandlerRegistry: Sendable {
    func handle<C: Command>(
        _ type: C.Type, queue: String?, format: (any WireFormat)?,
        handler: @escaping @Sendable (C, MessageContext) async throws -> Void)
    func subscribe<E: Event>(
        to type: E.Type, broadcast: Bool, handler: @escaping @Sendable (E, MessageContext) async throws -> Void)
    func respond<R: RemoteProcedure>(
        to type: R.Type, handler: @escaping @Sendable (R, MessageContext) async throws -> R.Reply)
}

extension HandlerRegistry {
    public func handle<C: Command>(
        _ type: C.Type, handler: @escaping @Sendable (C, MessageContext) async throws -> Void
    ) {
        handle(type, queue: nil, format: nil, handler: handler)
    }
    public func subscribe<E: Event>(
        to type: E.Type, handler: @escaping @Sendable (E, MessageContext) async throws -> Void
    ) {
        subscribe(to: type, broadcast: false, handler: handler)
    }
}

extension MessageBus: MessageSender {}
extension MessagingService: HandlerRegistry {}
