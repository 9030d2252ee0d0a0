/// The pause between attempts to reach the broker: half a second, doubling up to ten seconds,
/// and back to half a second after a success. Both services use it, so a broker restart sees
/// the same gentle, bounded retries from each.
public struct RetryPause: Sendable {
    public static let first: Duration = .milliseconds(500)
    public static let longest: Duration = .seconds(10)

    /// The pause the next ``wait()`` takes.
    public private(set) var next = RetryPause.first

    public init() {}

    /// Sleeps for ``next`` (throws `CancellationError` when the task is cancelled), then doubles it.
    public mutating func wait() async throws {
        let pause = next
        next = min(next * 2, Self.longest)
        try await Task.sleep(for: pause)
    }

    /// A success: the next failure starts over with the shortest pause.
    public mutating func reset() { next = Self.first }
}
