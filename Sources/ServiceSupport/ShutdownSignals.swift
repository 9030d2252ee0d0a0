import Dispatch

#if canImport(Glibc)
    import Glibc
#endif

/// Runs `body` until it returns or SIGTERM/SIGINT arrives; a signal cancels it, so `run()` loops
/// inside stop taking work, finish what is in flight, and return. The same signal a second time
/// (Ctrl-C pressed twice) exits at once; a SIGTERM after a SIGINT does not (a terminal's Ctrl-C
/// reaches both a script and the services it started, and the script then sends SIGTERM).
public func runUntilSignalled(_ body: @escaping @Sendable () async throws -> Void) async throws {
    let task = Task { try await body() }
    let queue = DispatchQueue(label: "shutdown-signals")
    var sources: [any DispatchSourceSignal] = []
    for signalNumber in [SIGTERM, SIGINT] {
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: queue)
        let received = SignalCount()  // per signal
        source.setEventHandler {
            if received.increment() > 1 { exit(130) }
            task.cancel()
        }
        source.resume()
        sources.append(source)
    }
    defer { for source in sources { source.cancel() } }
    try await task.value
}

/// Counts signals on the signal queue (one queue, so no lock is needed, but the type must be Sendable).
private final class SignalCount: @unchecked Sendable {
    private var count = 0
    func increment() -> Int {
        count += 1
        return count
    }
}
