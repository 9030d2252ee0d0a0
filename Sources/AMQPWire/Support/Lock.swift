#if canImport(Glibc)
    import Glibc
#endif

/// A value behind glibc's adaptive mutex, which spins briefly before it sleeps.
///
/// Used for the locks the I/O thread and tasks take many times per message (the connection
/// state, consumer buffers), whose critical sections are a few hundred nanoseconds. On Linux,
/// `Synchronization.Mutex` is a priority-inheritance futex: every contended acquisition goes into
/// the kernel's rt_mutex path and usually a context switch, which dominated profiles of a busy
/// consumer. Rarely contended state keeps `Mutex`.
final class Lock<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is only touched with `mutex` held.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        // PTHREAD_MUTEX_ADAPTIVE_NP (glibc): not exported to Swift by name.
        pthread_mutexattr_settype(&attributes, 3)
        pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always)
    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
