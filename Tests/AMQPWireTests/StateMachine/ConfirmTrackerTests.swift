import Testing

@testable import AMQPWire

@Suite struct ConfirmTrackerTests {
    /// Resolves and returns the (sequence, waiter) pairs in the order the tracker reported them.
    func resolve(_ tracker: inout ConfirmTracker<String>, _ tag: UInt64, multiple: Bool) -> (Bool, [UInt64], [String]) {
        var sequences: [UInt64] = []
        var waiters: [String] = []
        let known = tracker.resolve(deliveryTag: tag, multiple: multiple) { sequence, waiter in
            sequences.append(sequence)
            waiters.append(waiter)
        }
        return (known, sequences, waiters)
    }

    func tracker(registering count: Int) -> ConfirmTracker<String> {
        var tracker = ConfirmTracker<String>()
        for i in 1...count { #expect(tracker.register("p\(i)") == UInt64(i)) }
        return tracker
    }

    @Test func sequenceNumbersStartAtOneAndIncrease() {
        var tracker = ConfirmTracker<String>()
        #expect(tracker.nextSequence == 1)
        #expect(tracker.register("a") == 1)
        #expect(tracker.register("b") == 2)
        #expect(tracker.register("c") == 3)
        #expect(tracker.outstanding == 3)
        #expect(tracker.nextSequence == 4)
    }

    @Test func singleAckResolvesOnlyThatPublish() {
        var tracker = tracker(registering: 3)
        let (known, sequences, waiters) = resolve(&tracker, 2, multiple: false)
        #expect(known)
        #expect(sequences == [2])
        #expect(waiters == ["p2"])
        #expect(tracker.outstanding == 2)
    }

    @Test func multipleAckResolvesEverythingUpToTheTagInOrder() {
        var tracker = tracker(registering: 5)
        let (known, sequences, waiters) = resolve(&tracker, 3, multiple: true)
        #expect(known)
        #expect(sequences == [1, 2, 3])
        #expect(waiters == ["p1", "p2", "p3"])
        #expect(tracker.outstanding == 2)
    }

    @Test func multipleAckSkipsPublishesAlreadyResolvedOutOfOrder() {
        var tracker = tracker(registering: 5)
        #expect(resolve(&tracker, 4, multiple: false).1 == [4])
        #expect(resolve(&tracker, 2, multiple: false).1 == [2])
        let (_, sequences, waiters) = resolve(&tracker, 5, multiple: true)
        #expect(sequences == [1, 3, 5])
        #expect(waiters == ["p1", "p3", "p5"])
        #expect(tracker.outstanding == 0)
    }

    @Test func repeatedOrStaleTagsResolveNothingButAreKnown() {
        var tracker = tracker(registering: 3)
        _ = resolve(&tracker, 2, multiple: true)
        let again = resolve(&tracker, 2, multiple: false)
        #expect(again.0)
        #expect(again.1.isEmpty)
        let older = resolve(&tracker, 1, multiple: true)
        #expect(older.0)
        #expect(older.1.isEmpty)
        #expect(tracker.outstanding == 1)
    }

    @Test(arguments: [UInt64(0), 4, 1000, .max])
    func tagsNoPublishEverHadAreUnknown(tag: UInt64) {
        var tracker = tracker(registering: 3)
        for multiple in [false, true] {
            let (known, sequences, _) = resolve(&tracker, tag, multiple: multiple)
            #expect(!known)
            #expect(sequences.isEmpty)
        }
        #expect(tracker.outstanding == 3)
    }

    @Test func nackIsResolvedLikeAnAck() {
        // The tracker does not know acks from nacks: the caller decides what a resolution means.
        var tracker = tracker(registering: 2)
        #expect(resolve(&tracker, 2, multiple: true).2 == ["p1", "p2"])
    }

    @Test func drainHandsOverUnresolvedWaitersInSequenceOrder() {
        var tracker = tracker(registering: 5)
        _ = resolve(&tracker, 1, multiple: false)
        _ = resolve(&tracker, 3, multiple: false)
        var drained: [UInt64] = []
        tracker.drain { sequence, waiter in
            #expect(waiter == "p\(sequence)")
            drained.append(sequence)
        }
        #expect(drained == [2, 4, 5])
        #expect(tracker.outstanding == 0)
        // Numbering goes on where it was; earlier tags stay known and resolve nothing.
        #expect(tracker.register("p6") == 6)
        #expect(resolve(&tracker, 5, multiple: true).1.isEmpty)
        #expect(resolve(&tracker, 6, multiple: false).1 == [6])
    }

    @Test func unregisterLastReusesTheSequenceNumber() {
        var tracker = tracker(registering: 2)
        tracker.unregisterLast()
        #expect(tracker.outstanding == 1)
        #expect(tracker.nextSequence == 2)
        #expect(!resolve(&tracker, 2, multiple: false).0)
        #expect(tracker.register("again") == 2)
        let (_, sequences, waiters) = resolve(&tracker, 2, multiple: true)
        #expect(sequences == [1, 2])
        #expect(waiters == ["p1", "again"])
    }

    @Test func unregisterLastAfterTheFrontWasResolved() {
        var tracker = tracker(registering: 1)
        _ = resolve(&tracker, 1, multiple: false)
        #expect(tracker.register("p2") == 2)
        tracker.unregisterLast()
        #expect(tracker.outstanding == 0)
        #expect(tracker.register("p2'") == 2)
        #expect(resolve(&tracker, 2, multiple: false).2 == ["p2'"])
    }

    /// Thousands of random publishes, single and multiple acks, unknown and stale tags, drains
    /// and withdrawn publishes, checked step by step against a dictionary.
    @Test(arguments: [UInt64(1), 7, 0xDEAD_BEEF])
    func agreesWithAReferenceModelUnderRandomConfirms(seed: UInt64) {
        var random = Xorshift(seed: seed)
        var tracker = ConfirmTracker<UInt64>()
        var model: [UInt64: UInt64] = [:]  // sequence → waiter
        var next: UInt64 = 1
        var resolvedCount = 0

        for step in 0..<5000 {
            let roll = random.next() % 100
            if roll < 45 || model.isEmpty && roll < 95 {
                let waiter = random.next()
                #expect(tracker.register(waiter) == next)
                model[next] = waiter
                next += 1
            } else if roll < 95 {
                // Mostly tags among the outstanding ones, sometimes stale or never published.
                let oldest = model.keys.min() ?? next
                let tag =
                    random.next() % 5 == 0
                    ? random.next() % (next + 2) : oldest - 1 + random.next() % (next + 2 - oldest + 1)
                let multiple = random.next() % 3 == 0
                var got: [(UInt64, UInt64)] = []
                let known = tracker.resolve(deliveryTag: tag, multiple: multiple) { got.append(($0, $1)) }
                // A tag no publish ever had resolves nothing, even with `multiple`.
                let isKnown = tag >= 1 && tag < next
                let expectedKeys = isKnown ? model.keys.filter { multiple ? $0 <= tag : $0 == tag }.sorted() : []
                let expected = expectedKeys.compactMap { key in model[key].map { (key, $0) } }
                #expect(known == isKnown, "step \(step): tag \(tag)")
                #expect(got.map(\.0) == expected.map(\.0), "step \(step): tag \(tag) multiple \(multiple)")
                #expect(got.map(\.1) == expected.map(\.1), "step \(step)")
                for key in expectedKeys { model[key] = nil }
                resolvedCount += got.count
            } else if roll < 98 {
                // The publish could not be written: withdrawn before the broker saw it.
                if next > 1, model[next - 1] != nil {
                    tracker.unregisterLast()
                    next -= 1
                    model[next] = nil
                }
            } else {
                var drained: [UInt64] = []
                tracker.drain { sequence, waiter in
                    #expect(model[sequence] == waiter)
                    drained.append(sequence)
                }
                #expect(drained == model.keys.sorted(), "step \(step)")
                model.removeAll()
            }
            #expect(tracker.outstanding == model.count, "step \(step)")
            #expect(tracker.nextSequence == next, "step \(step)")
        }
        #expect(resolvedCount > 1000, "the run should exercise resolution a lot")
    }
}
