/// When to send a heartbeat and when to declare the peer dead, from the times of the last read
/// and the last write. Pure: the I/O loop passes the clock in.
///
/// A heartbeat goes out after half an interval without writes (any frame counts as one), and
/// the peer is dead after two whole intervals without a single inbound byte.
struct HeartbeatMonitor: Sendable {
    enum Action: Equatable {
        case none
        case sendHeartbeat
        case peerIsDead
    }

    /// Zero disables heartbeats.
    private(set) var interval: Duration
    private(set) var lastRead: ContinuousClock.Instant
    private(set) var lastWrite: ContinuousClock.Instant

    init(interval: Duration = .zero, now: ContinuousClock.Instant) {
        self.interval = interval
        lastRead = now
        lastWrite = now
    }

    var isEnabled: Bool { interval > .zero }

    mutating func start(intervalSeconds: UInt16, now: ContinuousClock.Instant) {
        interval = .seconds(Int(intervalSeconds))
        lastRead = now
        lastWrite = now
    }

    mutating func bytesRead(now: ContinuousClock.Instant) { lastRead = now }
    mutating func bytesWritten(now: ContinuousClock.Instant) { lastWrite = now }

    /// What to do at `now`. Sending a heartbeat counts as a write from then on.
    mutating func tick(now: ContinuousClock.Instant) -> Action {
        guard isEnabled else { return .none }
        if now - lastRead >= interval * 2 { return .peerIsDead }
        if now - lastWrite >= interval / 2 {
            lastWrite = now
            return .sendHeartbeat
        }
        return .none
    }

    /// The next instant `tick` may have something to do; nil when disabled.
    func nextDeadline() -> ContinuousClock.Instant? {
        guard isEnabled else { return nil }
        return min(lastWrite + interval / 2, lastRead + interval * 2)
    }
}
