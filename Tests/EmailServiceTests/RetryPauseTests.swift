import ServiceSupport
import Testing

/// The services' pause between attempts to reach the broker (ServiceSupport, used by both).
@Suite struct RetryPauseTests {
    @Test func pausesDoubleUpToTenSecondsAndStartOverAfterASuccess() async {
        // In a cancelled task each wait ends at once (CancellationError), but still moves on.
        let pauses = await Task {
            withUnsafeCurrentTask { $0?.cancel() }
            var pause = RetryPause()
            var seen: [Duration] = []
            for _ in 0..<7 {
                seen.append(pause.next)
                await #expect(throws: CancellationError.self) { try await pause.wait() }
            }
            pause.reset()
            seen.append(pause.next)
            return seen
        }.value
        #expect(
            pauses == [
                .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(10), .seconds(10),
                .milliseconds(500),
            ])
    }
}
