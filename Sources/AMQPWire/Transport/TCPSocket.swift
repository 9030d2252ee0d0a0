#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A non-blocking TCP socket over POSIX calls. Owned by one thread (the connection's I/O thread);
/// not thread-safe, which is why it is not `Sendable`.
final class TCPSocket {
    private(set) var fd: Int32

    init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    enum IOResult: Equatable {
        case bytes(Int)
        case wouldBlock
        /// The peer closed its end (reads only).
        case closed
        case failed(errno: Int32)
    }

    /// Connects to the first address of `host` that accepts within `deadline`, trying IPv6 and
    /// IPv4 addresses in the order getaddrinfo gives them. Blocks the calling thread.
    static func connect(host: String, port: Int, deadline: ContinuousClock.Instant) throws(AMQPError) -> TCPSocket {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            let reason = String(cString: gai_strerror(status))
            throw AMQPError(.connectFailed, "cannot resolve host '\(host)': \(reason)")
        }
        defer { freeaddrinfo(list) }
        var addresses: [UnsafeMutablePointer<addrinfo>] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            addresses.append(info)
            entry = info.pointee.ai_next
        }
        var failures: [String] = []
        for (index, info) in addresses.enumerated() {
            let address = describe(info.pointee.ai_addr, info.pointee.ai_addrlen)
            // Each address gets a share of the time left, so one that swallows packets (often an
            // unreachable IPv6 address listed first) cannot use it all.
            let remaining = deadline - .now
            guard remaining > .zero else { break }
            let share = remaining / (addresses.count - index)
            let attemptDeadline = min(deadline, .now + max(share, min(remaining, .seconds(3))))
            do {
                return try connect(info.pointee, deadline: attemptDeadline)
            } catch {
                failures.append("\(address): \(error.message)")
            }
        }
        let timedOut = ContinuousClock.now >= deadline
        throw AMQPError(
            timedOut ? .connectTimeout : .connectFailed,
            "cannot connect to \(host):\(port) (\(failures.isEmpty ? "timed out" : failures.joined(separator: "; ")))")
    }

    private static func connect(_ info: addrinfo, deadline: ContinuousClock.Instant) throws(AMQPError) -> TCPSocket {
        #if canImport(Glibc)
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
            let type = SOCK_STREAM
        #endif
        let fd = socket(info.ai_family, type, 0)
        guard fd >= 0 else { throw AMQPError(.connectFailed, "socket(): \(errnoText())") }
        let socket = TCPSocket(fd: fd)
        try socket.setNonBlocking()
        if Glibc.connect(fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw AMQPError(.connectFailed, errnoText()) }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            while true {
                let remaining = deadline - .now
                guard remaining > .zero else { throw AMQPError(.connectTimeout, "connect timed out") }
                let rc = poll(&pfd, 1, Int32(clamping: remaining.milliseconds + 1))
                if rc > 0 { break }
                if rc < 0 && errno != EINTR { throw AMQPError(.connectFailed, "poll(): \(errnoText())") }
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { throw AMQPError(.connectFailed, String(cString: strerror(error))) }
        }
        // Small frames (acks, RPCs) must not wait for Nagle's algorithm.
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, socklen_t(MemoryLayout<Int32>.size))
        return socket
    }

    func setNonBlocking() throws(AMQPError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw AMQPError(.ioError, "fcntl(O_NONBLOCK): \(TCPSocket.errnoText())")
        }
    }

    func receive(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n > 0 { return .bytes(n) }
            if n == 0 { return .closed }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno: errno)
            }
        }
    }

    func send(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            #if canImport(Glibc)
                let n = Glibc.send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
            #else
                let n = Darwin.send(fd, bytes.baseAddress, bytes.count, 0)
            #endif
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno: errno)
            }
        }
    }

    /// Sends several pieces in one call (gathering writes). Returns how many bytes went out.
    func send(_ pieces: ArraySlice<OutboundQueue.Piece>) -> IOResult {
        var vectors: [iovec] = []
        vectors.reserveCapacity(pieces.count)
        return gather(pieces, &vectors)
    }

    /// Collects each piece's address inside its own `withUnsafeBytes`, so every pointer is valid
    /// for the one `sendmsg` at the bottom of the recursion (at most a few dozen pieces deep).
    private func gather(_ rest: ArraySlice<OutboundQueue.Piece>, _ vectors: inout [iovec]) -> IOResult {
        guard let piece = rest.first else {
            return vectors.withUnsafeMutableBufferPointer { iov in
                var message = msghdr()
                message.msg_iov = iov.baseAddress
                message.msg_iovlen = iov.count
                while true {
                    let n = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
                    if n >= 0 { return .bytes(n) }
                    switch errno {
                    case EINTR: continue
                    case EAGAIN, EWOULDBLOCK: return .wouldBlock
                    default: return .failed(errno: errno)
                    }
                }
            }
        }
        return piece.bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, !piece.range.isEmpty else { return gather(rest.dropFirst(), &vectors) }
            vectors.append(
                iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: base + piece.range.lowerBound),
                    iov_len: piece.range.count))
            return gather(rest.dropFirst(), &vectors)
        }
    }

    /// Stops both directions so a blocked peer sees the end at once; the descriptor stays open.
    func shutdown() {
        guard fd >= 0 else { return }
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    func close() {
        guard fd >= 0 else { return }
        _ = Glibc.close(fd)
        fd = -1
    }

    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    private static func describe(_ address: UnsafeMutablePointer<sockaddr>?, _ length: socklen_t) -> String {
        guard let address else { return "?" }
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let rc = getnameinfo(
            address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
            NI_NUMERICHOST | NI_NUMERICSERV)
        guard rc == 0 else { return "?" }
        let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let s = String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return address.pointee.sa_family == sa_family_t(AF_INET6) ? "[\(h)]:\(s)" : "\(h):\(s)"
    }
}

/// A socket pair another thread writes a byte to, so the I/O thread's poll() wakes up. Made
/// close-on-exec and non-blocking atomically (a concurrent fork cannot inherit it); written with
/// MSG_NOSIGNAL, so it can never raise SIGPIPE.
final class WakeupPipe: Sendable {
    let readFD: Int32
    let writeFD: Int32

    init() throws(AMQPError) {
        var fds: [Int32] = [-1, -1]
        #if canImport(Glibc)
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        #else
            let type = SOCK_STREAM
        #endif
        guard socketpair(AF_UNIX, type, 0, &fds) == 0 else {
            throw AMQPError(.ioError, "socketpair(): \(TCPSocket.errnoText())")
        }
        readFD = fds[0]
        writeFD = fds[1]
    }

    deinit {
        Glibc.close(readFD)
        Glibc.close(writeFD)
    }

    func signal() {
        var byte: UInt8 = 1
        _ = Glibc.send(writeFD, &byte, 1, Int32(MSG_NOSIGNAL))  // a full buffer already means "wake up"
    }

    func drain() {
        var scratch = [UInt8](repeating: 0, count: 64)
        while Glibc.recv(readFD, &scratch, scratch.count, 0) > 0 {}
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

extension AMQPError {
    func withMessage(_ message: String) -> AMQPError {
        var copy = self
        copy.message = message
        return copy
    }
}
