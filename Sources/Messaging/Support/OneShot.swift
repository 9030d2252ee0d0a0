import Synchronization

/// A result delivered once and awaited once: the first `fulfil` wins, later ones are ignored.
/// Lets a caller register for a reply before sending the request, then wait for it.
final class OneShot<Value: Sendable>: Sendable {
    private enum State {
        case empty
        case waiting(CheckedContinuation<Value, any Error>)
        case done(Result<Value, any Error>)
    }

    private let state = Mutex<State>(.empty)

    /// Returns false when a result was already there.
    @discardableResult
    func fulfil(_ result: Result<Value, any Error>) -> Bool {
        let (first, waiter) = state.withLock { state -> (Bool, CheckedContinuation<Value, any Error>?) in
            switch state {
            case .empty:
                state = .done(result)
                return (true, nil)
            case .waiting(let continuation):
                state = .done(result)
                return (true, continuation)
            case .done:
                return (false, nil)
            }
        }
        waiter?.resume(with: result)
        return first
    }

    var isFulfilled: Bool { state.withLock { if case .done = $0 { true } else { false } } }

    /// Waits for the result. Only one task may wait.
    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Value, any Error>? = state.withLock { state in
                switch state {
                case .empty:
                    state = .waiting(continuation)
                    return nil
                case .done(let result):
                    return result
                case .waiting:
                    return .failure(MessagingError(.invalidConfiguration, "a reply can be awaited only once"))
                }
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}
