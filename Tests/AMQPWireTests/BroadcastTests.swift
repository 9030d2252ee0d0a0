import Testing

@testable import AMQPWire

@Suite struct BroadcastTests {
    /// A fixture for a double resume: finish() handed the waiter its end but left it registered,
    /// and dropping the subscription resumed it a second time (a crash).
    @Test func finishingThenDroppingAWaitingSubscriptionResumesItOnce() async {
        let broadcast = Broadcast<Int>(capacity: 4)
        var subscription: BroadcastSubscription<Int>? = BroadcastSubscription(broadcast)
        let iterating = Task { [subscription] in
            var iterator = subscription!.makeAsyncIterator()
            return await iterator.next()
        }
        // Let the task start waiting, then end the broadcast and drop the subscription.
        while broadcast.waitingSubscribers == 0 { await Task.yield() }
        broadcast.finish()
        subscription = nil
        #expect(await iterating.value == nil)
    }

    @Test func slowSubscriberKeepsTheNewestWithinCapacity() async {
        let broadcast = Broadcast<Int>(capacity: 2)
        let subscription = BroadcastSubscription(broadcast)
        for i in 1...5 { broadcast.publish(i) }
        broadcast.finish()
        var seen: [Int] = []
        for await value in subscription { seen.append(value) }
        #expect(seen == [4, 5])
    }
}
