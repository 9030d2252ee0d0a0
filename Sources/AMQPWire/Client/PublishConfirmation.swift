import Synchronization

/// The broker's answer to one publish on a channel in confirm mode, to await with ``wait()``.
///
/// The waiter is registered before the publish is written, so no confirm is ever missed, and
/// nothing is kept once the answer is in: ignoring a confirmation costs nothing.
public struct PublishConfirmation: Sendable {
    /// The publish's sequence number on its channel (the broker's delivery tag for the confirm);
    /// 0 on a channel without confirms.
    public let sequenceNumber: UInt64
    let promise: ConfirmPromise?

    /// Returns when the broker has taken responsibility for the message (basic.ack). Throws
    /// `publishNacked` when it refused it, `confirmOutcomeUnknown` when the channel or connection
    /// ended first, `confirmsNotEnabled` on a channel without confirms, and `cancelled` when the
    /// waiting task is cancelled (the publish itself goes on).
    public func wait() async throws {
        guard let promise else {
            throw AMQPError(
                .confirmsNotEnabled, "the channel is not in confirm mode; call enablePublisherConfirms() first")
        }
        try await promise.wait()
    }

    /// The outcome if it is already known, without waiting.
    public var result: Result<Void, AMQPError>? { promise?.result }
}

/// The shared state behind a ``PublishConfirmation``.
final class ConfirmPromise: Sendable {
    private struct State {
        var result: Result<Void, AMQPError>?
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter = 0
    }
    private let state = Mutex(State())

    var result: Result<Void, AMQPError>? { state.withLock { $0.result } }

    func resolve(_ result: Result<Void, AMQPError>) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
            guard s.result == nil else { return [] }
            s.result = result
            defer { s.waiters = [:] }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume(with: result.mapError { $0 as any Error }) }
    }

    func wait() async throws {
        if let result = state.withLock({ $0.result }) { return try result.get() }
        let id = state.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate = state.withLock { s -> Result<Void, AMQPError>? in
                    if let result = s.result { return result }
                    if Task.isCancelled { return .failure(AMQPError.cancelledWait) }
                    s.waiters[id] = continuation
                    return nil
                }
                if let immediate { continuation.resume(with: immediate.mapError { $0 as any Error }) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: AMQPError.cancelledWait)
        }
    }
}
