/// What happens when a handler throws.
///
/// First the handler runs again at once, up to ``immediateRetries`` more times (for blips such as
/// a dropped connection to a database). Then the message waits in a delay queue for each of
/// ``delays`` in turn (per-message TTL, dead-lettered back to its queue: no broker plugin), each
/// time followed by the immediate retries again. When those are used up, or the error is a
/// ``PermanentFailure``, or the message cannot be decoded or has no handler, it goes to the error
/// queue, whole, with headers saying why.
public struct RetryPolicy: Sendable, Hashable {
    public var immediateRetries: Int
    public var delays: [Duration]

    public init(immediateRetries: Int = 2, delays: [Duration] = [.seconds(1), .seconds(10), .seconds(60)]) {
        self.immediateRetries = max(0, immediateRetries)
        self.delays = delays.filter { $0 > .zero }
    }

    /// No retries: the first failure goes to the error queue.
    public static let none = RetryPolicy(immediateRetries: 0, delays: [])

    var delayMilliseconds: [Int] {
        delays.map { Int($0.components.seconds) * 1000 + Int($0.components.attoseconds / 1_000_000_000_000_000) }
    }
}
