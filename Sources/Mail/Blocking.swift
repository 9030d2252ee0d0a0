import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs blocking work (socket I/O, fsync) on a thread of its own and resumes the caller when it
/// is done. Swift concurrency's cooperative pool has one thread per core (two on the machines this
/// runs on); a blocked pool thread would stall every other task, so blocking work never runs there.
/// A thread per delivery costs tens of microseconds, nothing next to a network round trip.
func onDedicatedThread<T: Sendable>(name: String, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.name = name
        thread.start()
    }
}

/// Lets a task cancel a session blocked in `poll` on another thread: cancelling shuts the socket
/// down, which wakes the poll, and the session sees `isCancelled`. The descriptor is only touched
/// under the lock, between `attach` and `detach`, so a closed (and perhaps reused) descriptor is
/// never shut down.
final class SocketCancellation: Sendable {
    private struct State {
        var cancelled = false
        var fd: Int32?
    }
    private let state = Mutex(State())

    /// Registers the session's socket; false if cancellation came first.
    func attach(_ fd: Int32) -> Bool {
        state.withLock { state in
            guard !state.cancelled else { return false }
            state.fd = fd
            return true
        }
    }

    /// Call before closing the socket.
    func detach() {
        state.withLock { $0.fd = nil }
    }

    func cancel() {
        state.withLock { state in
            state.cancelled = true
            if let fd = state.fd { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
    }

    var isCancelled: Bool { state.withLock { $0.cancelled } }
}
