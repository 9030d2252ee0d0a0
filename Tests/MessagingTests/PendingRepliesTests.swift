import Testing

@testable import Messaging

/// Which RPC calls a connection failure orphans (their reply-to named the failed connection).
@Suite struct PendingRepliesTests {
    @Test func aFailureTakesTheCallsSentBeforeIt() {
        var pending = PendingReplies<String>()
        for call in ["a", "b", "c"] { pending.add(call, call) }
        pending.markSent("a", failureCount: 0)
        pending.markSent("b", failureCount: 0)
        #expect(pending.takeSent(before: 1).sorted() == ["a", "b"])
        #expect(pending.slots.keys.sorted() == ["c"], "a call still publishing is not orphaned")
    }

    /// The race the stamps close: the `.recovering` event is handled only after the recovery,
    /// when a new call has already been confirmed on the new connection. Only the old call fails.
    @Test func aLateRecoveringEventSparesCallsConfirmedAfterTheFailure() {
        var pending = PendingReplies<String>()
        pending.add("old", "old")
        pending.markSent("old", failureCount: 0)
        // The connection fails (failureCount 0 → 1), recovers, and a new call goes out on it.
        pending.add("new", "new")
        pending.markSent("new", failureCount: 1)
        // The event, handled late, reads the count as it is now.
        #expect(pending.takeSent(before: 1) == ["old"])
        #expect(pending.slots.keys.sorted() == ["new"])
        // A second failure orphans the new call too.
        #expect(pending.takeSent(before: 2) == ["new"])
        #expect(pending.slots.isEmpty)
    }

    @Test func aCallThatGotItsReplyIsNotTakenAgain() {
        var pending = PendingReplies<String>()
        pending.add("a", "a")
        pending.markSent("a", failureCount: 0)
        #expect(pending.remove("a") == "a")
        #expect(pending.takeSent(before: 1).isEmpty)
        // Marking a call that already ended (its reply came first) records nothing.
        pending.markSent("a", failureCount: 0)
        #expect(pending.takeSent(before: 1).isEmpty)
    }
}
