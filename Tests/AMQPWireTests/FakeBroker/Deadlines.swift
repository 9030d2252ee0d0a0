import Synchronization

@testable import AMQPWire

// Every wait on the client has a deadline, so a client that never answers fails the test with
// what was awaited instead of hanging the run. The deadlines are generous: they catch hangs,
// they do not measure speed.

/// Awaits `body`, throwing when it takes longer than `timeout`. On timeout `body` is cancelled
/// and left behind (some waits, such as a publish confirmation, cannot be cancelled).
func within<T: Sendable>(
    _ what: String, timeout: Duration = .seconds(5), _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let slot = ResumeOnce<T>()
    return try await withCheckedThrowingContinuation { continuation in
        slot.set(continuation)
        let work = Task {
            do { slot.resume(with: .success(try await body())) } catch { slot.resume(with: .failure(error)) }
        }
        Task {
            try? await Task.sleep(for: timeout)
            if slot.resume(with: .failure(FakeBrokerFailure("timed out after \(timeout) waiting for \(what)"))) {
                work.cancel()
            }
        }
    }
}

/// The ``AMQPError`` `body` throws; throws a failure when it returns, throws something else, or
/// takes longer than `timeout`.
func amqpError<T: Sendable>(
    _ what: String, within timeout: Duration = .seconds(5), _ body: @escaping @Sendable () async throws -> T
) async throws -> AMQPError {
    let outcome = try await within(what, timeout: timeout) { () async -> Result<T, any Error> in
        do { return .success(try await body()) } catch { return .failure(error) }
    }
    switch outcome {
    case .success(let value):
        throw FakeBrokerFailure("\(what) returned \(value); expected it to throw an AMQPError")
    case .failure(let error as AMQPError):
        return error
    case .failure(let error):
        throw FakeBrokerFailure("\(what) threw \(error); expected an AMQPError")
    }
}

/// Waits until `condition` holds, for state no frame reveals (a publish waiting for permission).
func eventually(_ what: String, timeout: Duration = .seconds(5), _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { throw FakeBrokerFailure("timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}

private final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    /// Resumes the continuation unless that was done already; true when this call did it.
    @discardableResult
    func resume(with result: Result<T, any Error>) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(with: result)
        return true
    }
}

extension AMQPConsumer {
    /// The next delivery (nil at a clean end), failing the test after `timeout`.
    func next(within timeout: Duration = .seconds(5)) async throws -> AMQPDelivery? {
        try await AMQPWireTests.within("the consumer's next delivery", timeout: timeout) {
            var iterator = self.makeAsyncIterator()
            return try await iterator.next()
        }
    }
}

extension BroadcastSubscription {
    /// The next element (nil once the source ended), failing the test after `timeout`.
    func next(within timeout: Duration = .seconds(5)) async throws -> Element? {
        try await AMQPWireTests.within("the next \(Element.self)", timeout: timeout) {
            var iterator = self.makeAsyncIterator()
            return await iterator.next()
        }
    }
}

extension AMQPConnection {
    /// How many publishes wait for permission (blocked connection, full confirm window).
    var waitingPublishers: Int { core.state.withLock { $0.permissionWaiters.count } }
}
