/// RPC calls waiting for replies, by correlation id, and which of them have sent their request.
///
/// A request carries a direct reply-to address that names its channel, so once the connection
/// fails, a call whose request went out before can never get its reply. Each sent call is stamped
/// with ``AMQPConnection/failureCount`` as it was when its request was confirmed, and a failure
/// takes exactly the calls stamped before it, even when the `.recovering` event is handled after
/// the recovery, by which time new calls are waiting on the new connection.
struct PendingReplies<Slot> {
    private(set) var slots: [String: Slot] = [:]
    /// Sent calls: correlation id → the failure count when the request was confirmed.
    private var sent: [String: Int] = [:]

    mutating func add(_ correlation: String, _ slot: Slot) { slots[correlation] = slot }

    /// The request went out and was confirmed, with `failureCount` read after the confirm. (Read
    /// before the publish, it would stamp a request that waited out a recovery and went out on
    /// the new connection as an old one.)
    mutating func markSent(_ correlation: String, failureCount: Int) {
        if slots[correlation] != nil { sent[correlation] = failureCount }
    }

    mutating func remove(_ correlation: String) -> Slot? {
        sent[correlation] = nil
        return slots.removeValue(forKey: correlation)
    }

    /// The calls whose request was confirmed before the connection's `failureCount` reached its
    /// current value: their replies are lost.
    mutating func takeSent(before failureCount: Int) -> [Slot] {
        let orphaned = sent.filter { $0.value < failureCount }.keys
        return orphaned.compactMap { remove($0) }
    }
}
