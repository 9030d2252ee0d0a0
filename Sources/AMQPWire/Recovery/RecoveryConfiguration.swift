/// How a connection recovers from failures: reconnection, backoff, and what topology to restore.
///
/// Recovery starts after a network failure, a missed-heartbeat death, a broker restart or a
/// broker-initiated connection close; never after ``AMQPConnection/close()`` or when the broker
/// refuses the credentials or the virtual host.
public struct RecoveryConfiguration: Sendable {
    /// Whether a failed connection reconnects and restores its channels, topology and consumers.
    public var isEnabled = true
    /// The wait before the first reconnection attempt; it doubles after every failed attempt.
    public var initialDelay: Duration = .milliseconds(250)
    /// The longest wait between attempts.
    public var maximumDelay: Duration = .seconds(15)
    /// How many reconnection attempts before giving up; nil keeps trying until the connection is
    /// closed.
    public var maximumAttempts: Int?
    /// Which recorded entities to restore; entities it refuses are left out (and forgotten).
    /// Default: all.
    public var topologyFilter: (@Sendable (RecordedEntity) -> Bool)?

    public init() {}

    /// The wait before attempt `attempt` (1 is the first retry): exponential, capped, with full
    /// jitter so that many clients do not reconnect in step. `random` is in 0..<1.
    static func delay(attempt: Int, initial: Duration, maximum: Duration, random: Double) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(maximum, initial * (1 << exponent))
        return ceiling * max(0, min(random, 1))
    }
}

extension RecoveryConfiguration: Hashable {
    /// Compares the values; the filter (a closure) is compared only by presence.
    public static func == (a: Self, b: Self) -> Bool {
        a.isEnabled == b.isEnabled && a.initialDelay == b.initialDelay && a.maximumDelay == b.maximumDelay
            && a.maximumAttempts == b.maximumAttempts && (a.topologyFilter == nil) == (b.topologyFilter == nil)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(isEnabled)
        hasher.combine(initialDelay)
        hasher.combine(maximumDelay)
        hasher.combine(maximumAttempts)
    }
}

/// An entity recovery re-declares: what the application declared, bound or consumed.
public enum RecordedEntity: Sendable, Hashable, CustomStringConvertible {
    case exchange(RecordedExchange)
    case queue(RecordedQueue)
    case binding(RecordedBinding)
    case consumer(RecordedConsumer)

    public var description: String {
        switch self {
        case .exchange(let e): "exchange '\(e.name)'"
        case .queue(let q): "queue '\(q.name)'"
        case .binding(let b):
            "binding of \(b.kind == .queue ? "queue" : "exchange") '\(b.destination)' to '\(b.source)' with key '\(b.routingKey)'"
        case .consumer(let c): "consumer '\(c.tag)' on queue '\(c.queue)'"
        }
    }
}

public struct RecordedExchange: Sendable, Hashable {
    public var name: String
    public var type: String
    public var durable: Bool
    public var autoDelete: Bool
    public var `internal`: Bool
    public var arguments: FieldTable
}

public struct RecordedQueue: Sendable, Hashable {
    public var name: String
    public var durable: Bool
    public var exclusive: Bool
    public var autoDelete: Bool
    public var arguments: FieldTable
    /// Declared without a name: recovery asks the broker for a new one.
    public var isServerNamed: Bool
}

public struct RecordedBinding: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case queue, exchange }
    public var kind: Kind
    /// The queue or exchange bound.
    public var destination: String
    /// The exchange it is bound to.
    public var source: String
    public var routingKey: String
    public var arguments: FieldTable
}

public struct RecordedConsumer: Sendable, Hashable {
    public var queue: String
    public var tag: String
    public var noAck: Bool
    public var exclusive: Bool
    public var arguments: FieldTable
}
