import Synchronization

/// Remembers the most recent message ids, up to `capacity`, for idempotent handlers: a
/// redelivered message whose id was seen is recognised and skipped.
///
/// Memory is bounded: past `capacity` the oldest id is forgotten, so a duplicate arriving after
/// `capacity` newer messages is not caught (size the window to the redelivery horizon, or keep a
/// durable journal as the email service does).
public final class RecentMessageIDs: Sendable {
    private struct State {
        var members: Set<String> = []
        var order: [String] = []
        var head = 0
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 10_000) {
        self.capacity = max(1, capacity)
    }

    /// Records `id`; returns false when it was already remembered (a duplicate).
    public func insert(_ id: String) -> Bool {
        state.withLock { s in
            guard !s.members.contains(id) else { return false }
            s.members.insert(id)
            if s.order.count < capacity {
                s.order.append(id)
            } else {
                s.members.remove(s.order[s.head])
                s.order[s.head] = id
                s.head = (s.head + 1) % capacity
            }
            return true
        }
    }

    public func contains(_ id: String) -> Bool { state.withLock { $0.members.contains(id) } }

    /// How many ids are remembered.
    public var count: Int { state.withLock { $0.members.count } }

    /// The remembered ids, oldest first (for writing them out).
    public var oldestFirst: [String] {
        state.withLock { s in (s.order[s.head...] + s.order[..<s.head]).filter { s.members.contains($0) } }
    }

    /// Forgets `id`, e.g. when handling it failed and a retry must run it again.
    public func remove(_ id: String) {
        state.withLock { s in
            guard s.members.remove(id) != nil, let index = s.order.firstIndex(of: id) else { return }
            s.order[index] = ""  // a placeholder that no message id can equal (ids are never empty here)
        }
    }
}
