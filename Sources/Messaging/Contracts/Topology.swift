import AMQPWire

/// Names and shapes of the broker entities, written down in one place (docs/messaging.md).
///
/// - commands for service `S`: durable queue `S`, published through the default exchange;
/// - events from service `S`: durable topic exchange `S.events`, routing key = message type;
///   a subscribing service `T` consumes durable queue `T.<message type>` bound to it, or, for
///   broadcast subscriptions, an exclusive server-named queue per instance;
/// - RPC to service `S`: queue `S.rpc`, non-durable and auto-deleted when the last server stops,
///   so a call with no server running is returned at once; replies over direct reply-to;
/// - for every consumed queue `Q`: delay queues `Q.delay.<ms>` (per-message TTL, dead-lettered
///   back to `Q` through the default exchange) and the error queue `Q.error`.
public enum Topology {
    public static func commandQueue(service: String) -> String { service }
    public static func eventExchange(source: String) -> String { "\(source).events" }
    public static func eventQueue(subscriber: String, messageType: String) -> String { "\(subscriber).\(messageType)" }
    public static func rpcQueue(service: String) -> String { "\(service).rpc" }
    public static func delayQueue(for queue: String, delayMilliseconds: Int) -> String {
        "\(queue).delay.\(delayMilliseconds)"
    }
    public static func errorQueue(for queue: String) -> String { "\(queue).error" }
}

/// The kind of durable queue a service declares for its commands, subscriptions and errors.
public enum QueueKind: String, Sendable, CaseIterable {
    /// RabbitMQ's classic queue (single node).
    case classic
    /// A replicated quorum queue: survives the loss of a minority of cluster nodes.
    case quorum

    var arguments: FieldTable {
        switch self {
        case .classic: [:]
        case .quorum: ["x-queue-type": .string("quorum")]
        }
    }
}

/// Header names the library writes on retried and failed messages.
public enum FailureHeaders {
    /// Delayed attempts made so far (0 before the first delayed retry).
    public static let delayedAttempts = "x-delayed-attempts"
    /// Total handler attempts made so far.
    public static let attempts = "x-attempts"
    public static let errorType = "x-error-type"
    public static let errorMessage = "x-error-message"
    public static let originalExchange = "x-original-exchange"
    public static let originalRoutingKey = "x-original-routing-key"
    public static let originalQueue = "x-original-queue"
    /// When the first attempt failed and when the message gave up (ISO 8601).
    public static let firstFailedAt = "x-first-failed-at"
    public static let failedAt = "x-failed-at"

    /// The most a count header is taken to say (far above any real number of attempts).
    static let maximumCount = 1 << 30

    /// A count header as received: the headers come from the network, so an absent, negative or
    /// non-integer value counts as 0 and a huge one is capped, and counting on from it can
    /// neither overflow nor index out of range.
    static func count(_ value: FieldValue?) -> Int {
        min(max(value?.intValue ?? 0, 0), maximumCount)
    }
}
