/// Publisher-confirm bookkeeping for one channel: sequence numbers handed out in publish order,
/// and the waiter of each until the broker acks or nacks it, singly or with `multiple`.
///
/// Generic over the waiter so tests use plain values. Waiters are registered before the publish
/// is written, so a confirm can never arrive for a publish nobody is waiting on.
struct ConfirmTracker<Waiter: Sendable>: Sendable {
    /// The sequence number the next publish gets; the broker numbers from 1 after confirm.select.
    private(set) var nextSequence: UInt64 = 1
    /// Unresolved publishes.
    private(set) var outstanding = 0
    /// Slot i holds the waiter of sequence number `base + i`, or nil once resolved.
    private var slots = RingBuffer<Waiter?>()
    private var base: UInt64 = 1

    /// Registers the waiter of the next publish and returns its sequence number.
    mutating func register(_ waiter: Waiter) -> UInt64 {
        let sequence = nextSequence
        nextSequence += 1
        slots.append(waiter)
        outstanding += 1
        return sequence
    }

    /// Takes back the most recent registration (its publish could not be written).
    mutating func unregisterLast() {
        precondition(slots.count > 0 && nextSequence > base, "nothing to unregister")
        if case .some(.some) = slots.removeLast() { outstanding -= 1 }
        nextSequence -= 1
    }

    /// Resolves the publish `tag`, or every publish up to `tag` when `multiple`, calling `body`
    /// with each waiter resolved. Returns false when `tag` names no publish ever made.
    mutating func resolve(deliveryTag tag: UInt64, multiple: Bool, _ body: (UInt64, Waiter) -> Void) -> Bool {
        guard tag >= 1, tag < nextSequence else { return false }
        if tag >= base {
            if multiple {
                for offset in 0...Int(tag - base) {
                    if let waiter = slots[offset: offset] {
                        slots[offset: offset] = nil
                        outstanding -= 1
                        body(base + UInt64(offset), waiter)
                    }
                }
            } else if let waiter = slots[offset: Int(tag - base)] {
                slots[offset: Int(tag - base)] = nil
                outstanding -= 1
                body(tag, waiter)
            }
        }
        while let first = slots.first, first == nil {
            slots.removeFirst()
            base += 1
        }
        return true
    }

    /// Removes every unresolved waiter (the channel or connection is gone), in sequence order.
    mutating func drain(_ body: (UInt64, Waiter) -> Void) {
        var sequence = base
        while let slot = slots.removeFirst() {
            if let waiter = slot { body(sequence, waiter) }
            sequence += 1
        }
        base = nextSequence
        outstanding = 0
    }
}
