#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A socket pair another thread writes a byte to, so an I/O thread's poll() wakes up. Made
/// close-on-exec and non-blocking atomically (a concurrent fork cannot inherit it); written with
/// MSG_NOSIGNAL, so it can never raise SIGPIPE.
package final class WakeupPipe: Sendable {
    package let readFD: Int32
    package let writeFD: Int32

    package init() throws(SocketError) {
        var fds: [Int32] = [-1, -1]
        #if canImport(Glibc)
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        #else
            let type = SOCK_STREAM
        #endif
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
            throw SocketError(.io, "socketpair(): \(errnoText())", code: errno)
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        _ = systemClose(readFD)
        _ = systemClose(writeFD)
    }

    package func signal() {
        var byte: UInt8 = 1
        _ = systemSend(writeFD, &byte, 1)  // a full buffer already means "wake up"
    }

    /// What ``wait(upTo:)`` saw.
    package enum WaitResult: Sendable, Equatable {
        case signalled
        case timedOut
        /// The descriptor is beyond `select()`'s range (a process with over a thousand open
        /// files); nothing was waited for.
        case unsupported
    }

    /// Waits until the pipe is signalled or `duration` passes, with microsecond precision (poll()
    /// counts in milliseconds, and `ppoll` is not visible from Swift), and drains a signal.
    package func wait(upTo duration: Duration) -> WaitResult {
        var set = fd_set()
        let bits = MemoryLayout<fd_set>.size * 8
        guard readFD >= 0 && Int(readFD) < bits else { return .unsupported }
        // FD_SET is a macro: set bit `readFD` byte by byte (on little-endian machines the same bit
        // whether the set is made of int or long words).
        withUnsafeMutableBytes(of: &set) { raw in raw[Int(readFD) / 8] |= UInt8(1) << (UInt8(readFD % 8)) }
        let micros = max(0, duration / .microseconds(1))
        var time = timeval(
            tv_sec: Int(micros / 1_000_000), tv_usec: .init(micros.truncatingRemainder(dividingBy: 1_000_000)))
        guard select(readFD + 1, &set, nil, nil, &time) > 0 else { return .timedOut }
        drain()
        return .signalled
    }

    package func drain() {
        withUnsafeTemporaryAllocation(byteCount: 64, alignment: 1) { scratch in
            while recv(readFD, scratch.baseAddress, scratch.count, 0) > 0 {}
        }
    }
}

/// `close(2)`, named so it cannot be shadowed by a method called `close`.
func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Glibc)
        Glibc.close(fd)
    #else
        Darwin.close(fd)
    #endif
}

/// `send(2)` that never raises SIGPIPE.
func systemSend(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
        Glibc.send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
        Darwin.send(fd, bytes, count, 0)
    #endif
}
