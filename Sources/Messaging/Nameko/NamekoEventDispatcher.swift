public import AMQPWire
public import Observability

/// Dispatches events the way a Nameko `EventDispatcher` does, so Nameko `@event_handler`s (and
/// ``NamekoEventSubscriber``s) receive them.
///
/// ```swift
/// let events = try await NamekoEventDispatcher.start(connection: connection)
/// try await events.dispatch(Greeted(name: "Bob"))     // a NamekoEvent from source "greeting"
/// ```
///
/// An event goes to the topic exchange `<source>.events` (durable, declared on first use) with
/// the event type as routing key. The body is the JSON of the value, the properties those of
/// Nameko 2.14.1's standalone dispatcher (`application/json`, `utf-8`, persistent, priority 0),
/// and the headers empty, or the context's call id stack and data when dispatched from inside a
/// handler. Each dispatch waits for the broker's confirm. Like Nameko, an event no queue is bound
/// for is not an error unless `requireSubscriber` says so.
public final class NamekoEventDispatcher: Sendable {
    /// How `Date` values are written.
    public let dateEncoding: NamekoDateEncoding
    private let bus: MessageBus

    private init(bus: MessageBus, dateEncoding: NamekoDateEncoding) {
        self.bus = bus
        self.dateEncoding = dateEncoding
    }

    /// Opens the dispatcher's channel (in confirm mode) on `connection`.
    public static func start(
        connection: AMQPConnection, name: String = "swift_event_dispatcher",
        dateEncoding: NamekoDateEncoding = .isoString, logger: Logger? = nil,
        metrics: MetricsRegistry = MetricsRegistry()
    ) async throws -> NamekoEventDispatcher {
        let bus = try await MessageBus.start(
            connection: connection, serviceName: name, logger: logger ?? Logger(label: "\(name).nameko-events"),
            metrics: metrics)
        return NamekoEventDispatcher(bus: bus, dateEncoding: dateEncoding)
    }

    /// Closes the dispatcher's channel.
    public func close() async { await bus.close() }

    /// Dispatches `event` as its ``NamekoEvent/source`` service. Throws `.serialization` when it
    /// does not encode, `.nacked` when the broker refuses it, and `.unroutable` with
    /// `requireSubscriber` when no queue is bound for it.
    public func dispatch<E: NamekoEvent>(
        _ event: E, context: NamekoContext? = nil, requireSubscriber: Bool = false
    ) async throws {
        try await dispatch(
            event, source: E.source, eventType: E.eventType, context: context, requireSubscriber: requireSubscriber)
    }

    /// Dispatches `payload` (any JSON value: a struct, a dictionary, a string) as event
    /// `eventType` of service `source`.
    public func dispatch<Payload: Encodable & Sendable>(
        _ payload: Payload, source: String, eventType: String, context: NamekoContext? = nil,
        requireSubscriber: Bool = false
    ) async throws {
        let json: NamekoJSON
        do {
            json = try NamekoCoding.encode(payload, dates: dateEncoding)
        } catch {
            throw MessagingError(
                .serialization, "cannot encode event \(source).\(eventType): \(error)", underlying: error)
        }
        let exchange = NamekoTopology.eventExchange(source: source)
        try await bus.declareEventExchange(exchange)
        try await bus.publishConfirmed(
            OutgoingMessage(body: json.serialized(), properties: Self.properties(context: context)),
            exchange: exchange, routingKey: eventType, mandatory: requireSubscriber, messageType: eventType)
    }

    static func properties(context: NamekoContext?) -> BasicProperties {
        BasicProperties(
            contentType: "application/json", contentEncoding: "utf-8", headers: context?.outgoingHeaders ?? [:],
            deliveryMode: 2, priority: 0)
    }
}
