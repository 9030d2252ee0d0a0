import Testing

@testable import AMQPWire

/// The monitor with a synthetic clock: a fixed instant advanced by durations, never slept on.
@Suite struct HeartbeatMonitorTests {
    let t0 = ContinuousClock.now

    func started(seconds: UInt16 = 10) -> HeartbeatMonitor {
        var monitor = HeartbeatMonitor(now: t0)
        monitor.start(intervalSeconds: seconds, now: t0)
        return monitor
    }

    @Test func isDisabledUntilStartedAndWithZero() {
        var monitor = HeartbeatMonitor(now: t0)
        #expect(!monitor.isEnabled)
        #expect(monitor.tick(now: t0 + .seconds(3600)) == .none)
        #expect(monitor.nextDeadline() == nil)

        monitor.start(intervalSeconds: 0, now: t0)
        #expect(!monitor.isEnabled)
        #expect(monitor.tick(now: t0 + .seconds(86_400)) == .none)
        #expect(monitor.nextDeadline() == nil)
    }

    @Test func sendsHeartbeatAfterHalfAnIntervalWithoutWrites() {
        var monitor = started(seconds: 10)
        #expect(monitor.tick(now: t0 + .milliseconds(4999)) == .none)
        #expect(monitor.tick(now: t0 + .seconds(5)) == .sendHeartbeat)
        // The heartbeat counts as a write: the next one is half an interval later.
        #expect(monitor.tick(now: t0 + .seconds(5)) == .none)
        #expect(monitor.tick(now: t0 + .milliseconds(9999)) == .none)
        monitor.bytesRead(now: t0 + .seconds(10))
        #expect(monitor.tick(now: t0 + .seconds(10)) == .sendHeartbeat)
    }

    @Test func writesPostponeTheHeartbeat() {
        var monitor = started(seconds: 10)
        monitor.bytesWritten(now: t0 + .seconds(4))
        #expect(monitor.tick(now: t0 + .seconds(5)) == .none)
        #expect(monitor.tick(now: t0 + .milliseconds(8999)) == .none)
        #expect(monitor.tick(now: t0 + .seconds(9)) == .sendHeartbeat)
    }

    @Test func readsDoNotCountAsWrites() {
        var monitor = started(seconds: 10)
        monitor.bytesRead(now: t0 + .seconds(4))
        #expect(monitor.tick(now: t0 + .seconds(5)) == .sendHeartbeat)
    }

    @Test func peerIsDeadAfterTwoIntervalsWithoutReads() {
        var monitor = started(seconds: 10)
        // Keep writing, so only the read side decides.
        for second in stride(from: 5, through: 15, by: 5) {
            #expect(monitor.tick(now: t0 + .seconds(second)) == .sendHeartbeat)
        }
        #expect(monitor.tick(now: t0 + .milliseconds(19_999)) == .none)
        #expect(monitor.tick(now: t0 + .seconds(20)) == .peerIsDead)
    }

    @Test func readsKeepThePeerAlive() {
        var monitor = started(seconds: 10)
        var now = t0
        for _ in 0..<100 {
            now += .seconds(15)
            monitor.bytesRead(now: now)
            monitor.bytesWritten(now: now)
            #expect(monitor.tick(now: now) == .none)
        }
        #expect(monitor.tick(now: now + .milliseconds(19_999)) == .sendHeartbeat)
        #expect(monitor.tick(now: now + .seconds(20)) == .peerIsDead)
    }

    @Test func deathTakesPrecedenceOverSendingAHeartbeat() {
        var monitor = started(seconds: 10)
        #expect(monitor.tick(now: t0 + .seconds(60)) == .peerIsDead)
    }

    @Test func nextDeadlineIsTheEarlierOfHeartbeatAndDeath() throws {
        var monitor = started(seconds: 10)
        #expect(monitor.nextDeadline() == t0 + .seconds(5))
        monitor.bytesWritten(now: t0 + .seconds(18))
        #expect(monitor.nextDeadline() == t0 + .seconds(20))
        monitor.bytesRead(now: t0 + .seconds(18))
        #expect(monitor.nextDeadline() == t0 + .seconds(23))
    }

    @Test func startResetsTheClockAndInterval() {
        var monitor = HeartbeatMonitor(now: t0)
        let later = t0 + .seconds(1000)
        monitor.start(intervalSeconds: 4, now: later)
        #expect(monitor.interval == .seconds(4))
        #expect(monitor.tick(now: later + .milliseconds(1999)) == .none)
        #expect(monitor.tick(now: later + .seconds(2)) == .sendHeartbeat)
    }
}
