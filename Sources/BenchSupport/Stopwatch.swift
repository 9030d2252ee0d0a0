/// Monotonic elapsed time, for the benchmark tools' rates.
public struct Stopwatch: Sendable {
    private let start = ContinuousClock.now

    public init() {}

    /// Seconds since the stopwatch was made.
    public var seconds: Double { (ContinuousClock.now - start) / .seconds(1) }
}
