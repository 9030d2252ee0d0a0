#if canImport(Glibc)
    package import Glibc
#elseif canImport(Darwin)
    package import Darwin
#endif

/// A TCP (or Unix-domain) socket over POSIX calls, the one socket layer of the project: the AMQP
/// client, the SMTP client and the HTTP server all stand on it.
///
/// Owned by one thread or task at a time; not thread-safe, which is why it is not `Sendable`.
/// The descriptor is closed on `close()` or when the object goes away.
package final class Socket {
    package private(set) var fd: Int32

    /// Takes ownership of an open descriptor.
    package init(fd: Int32) {
        self.fd = fd
    }

    deinit { close() }

    package enum IOResult: Equatable, Sendable {
        case bytes(Int)
        case wouldBlock
        /// The peer closed its end (reads only).
        case closed
        case failed(errno: Int32)
    }

    // MARK: Connecting

    /// Connects to the first address of `host` that accepts before `deadline`, trying IPv6 and IPv4
    /// addresses in the order getaddrinfo gives them. Blocks the calling thread. The socket comes
    /// back non-blocking, with TCP_NODELAY and SO_KEEPALIVE set.
    package static func connect(host: String, port: Int, deadline: ContinuousClock.Instant) throws(SocketError)
        -> Socket
    {
        let addresses = try AddressList(host: host, port: port, passive: false)
        // The entries point into the list: keep it alive until the last one is used.
        defer { withExtendedLifetime(addresses) {} }
        var failures: [String] = []
        for (index, info) in addresses.entries.enumerated() {
            // Each address gets a share of the time left, so one that swallows packets (often an
            // unreachable IPv6 address listed first) cannot use it all.
            let remaining = deadline - .now
            guard remaining > .zero else { break }
            let share = remaining / (addresses.entries.count - index)
            let attemptDeadline = min(deadline, .now + max(share, min(remaining, .seconds(3))))
            do {
                return try connect(info.pointee, deadline: attemptDeadline)
            } catch {
                failures.append("\(describe(info.pointee.ai_addr, info.pointee.ai_addrlen)): \(error.message)")
            }
        }
        let timedOut = ContinuousClock.now >= deadline
        throw SocketError(
            timedOut ? .timeout : .connect,
            "cannot connect to \(host):\(port) (\(failures.isEmpty ? "timed out" : failures.joined(separator: "; ")))")
    }

    private static func connect(_ info: addrinfo, deadline: ContinuousClock.Instant) throws(SocketError) -> Socket {
        let socket = try open(family: info.ai_family)
        try socket.setNonBlocking()
        if systemConnect(socket.fd, info.ai_addr, info.ai_addrlen) != 0 {
            guard errno == EINPROGRESS else { throw SocketError(.connect, errnoText(), code: errno) }
            do {
                try socket.wait(for: .writable, until: deadline)
            } catch {
                throw SocketError(error.kind == .timeout ? .timeout : .connect, "connect: \(error.message)")
            }
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(socket.fd, SOL_SOCKET, SO_ERROR, &error, &length)
            guard error == 0 else { throw SocketError(.connect, errnoText(error), code: error) }
        }
        // Small frames (acks, RPCs, SMTP replies) must not wait for Nagle's algorithm.
        socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
        socket.setOption(SOL_SOCKET, SO_KEEPALIVE, 1)
        return socket
    }

    // MARK: Listening

    /// Binds and listens on `host:port` (port 0 picks a free one; see `localPort`). The listening
    /// socket is blocking; `accept()` waits for a client. SO_REUSEADDR is set so a restarted
    /// server can bind while old connections linger in TIME_WAIT.
    package static func listen(host: String, port: Int, backlog: Int32 = 512) throws(SocketError) -> Socket {
        let addresses = try AddressList(host: host, port: port, passive: true)
        defer { withExtendedLifetime(addresses) {} }
        var failures: [String] = []
        for info in addresses.entries {
            do throws(SocketError) {
                let socket = try open(family: info.pointee.ai_family)
                socket.setOption(SOL_SOCKET, SO_REUSEADDR, 1)
                guard bind(socket.fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
                    throw SocketError(.connect, "bind: \(errnoText())", code: errno)
                }
                guard systemListen(socket.fd, backlog) == 0 else {
                    throw SocketError(.connect, "listen: \(errnoText())", code: errno)
                }
                return socket
            } catch {
                failures.append("\(describe(info.pointee.ai_addr, info.pointee.ai_addrlen)): \(error.message)")
            }
        }
        throw SocketError(.connect, "cannot listen on \(host):\(port) (\(failures.joined(separator: "; ")))")
    }

    /// Waits for the next client (blocking) and returns its socket, blocking and with TCP_NODELAY.
    /// Throws `.closed` once the listening socket is shut down.
    package func accept() throws(SocketError) -> Socket {
        while true {
            #if canImport(Glibc)
                let client = Glibc.accept(fd, nil, nil)
            #else
                let client = Darwin.accept(fd, nil, nil)
            #endif
            if client >= 0 {
                _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                let socket = Socket(fd: client)
                socket.setOption(Int32(IPPROTO_TCP), TCP_NODELAY, 1)
                return socket
            }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EINVAL, EBADF: throw SocketError(.closed, "the listening socket is closed", code: errno)
            default: throw SocketError(.io, "accept: \(errnoText())", code: errno)
            }
        }
    }

    /// The local port, e.g. after listening on port 0.
    package var localPort: Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &storage) { pointer -> Int? in
            switch Int32(pointer.pointee.ss_family) {
            case AF_INET:
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin_port))
                }
            case AF_INET6:
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            default: nil
            }
        }
    }

    // MARK: Options

    package func setNonBlocking() throws(SocketError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw SocketError(.io, "fcntl(O_NONBLOCK): \(errnoText())", code: errno)
        }
    }

    package func setOption(_ level: Int32, _ name: Int32, _ value: Int32) {
        var value = value
        setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
    }

    // MARK: Reading and writing

    /// One `recv`: bytes read, `.closed` at end of stream, `.wouldBlock` on a non-blocking socket
    /// with nothing to read.
    package func receive(into buffer: UnsafeMutableRawBufferPointer) -> IOResult {
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

    /// One `send` (never raising SIGPIPE): how many bytes went out.
    package func send(_ bytes: UnsafeRawBufferPointer) -> IOResult {
        while true {
            let n = systemSend(fd, bytes.baseAddress, bytes.count)
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno: errno)
            }
        }
    }

    /// One gathering `sendmsg` of `vectors` (never raising SIGPIPE). The caller keeps every
    /// vector's memory valid for the duration of the call.
    package func send(vectors: UnsafeMutableBufferPointer<iovec>) -> IOResult {
        var message = msghdr()
        message.msg_iov = vectors.baseAddress
        #if canImport(Glibc)
            message.msg_iovlen = vectors.count
        #else
            message.msg_iovlen = Int32(vectors.count)
        #endif
        while true {
            #if canImport(Glibc)
                let n = sendmsg(fd, &message, Int32(MSG_NOSIGNAL))
            #else
                let n = sendmsg(fd, &message, 0)
            #endif
            if n >= 0 { return .bytes(n) }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK: return .wouldBlock
            default: return .failed(errno: errno)
            }
        }
    }

    // MARK: Deadline-bounded blocking I/O (for request/reply protocols such as SMTP and HTTP)

    package enum Readiness: Sendable {
        case readable, writable
    }

    /// Waits until the socket is readable or writable, or throws `.timeout` at `deadline`.
    package func wait(for readiness: Readiness, until deadline: ContinuousClock.Instant) throws(SocketError) {
        var pfd = pollfd(fd: fd, events: Int16(readiness == .readable ? POLLIN : POLLOUT), revents: 0)
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { throw SocketError(.timeout, "timed out") }
            let rc = poll(&pfd, 1, Int32(clamping: remaining.pollMilliseconds + 1))
            if rc > 0 { return }
            if rc < 0 && errno != EINTR { throw SocketError(.io, "poll: \(errnoText())", code: errno) }
        }
    }

    /// Reads what is available (at least one byte), waiting no later than `deadline`.
    /// Throws `.closed` at end of stream, `.timeout` at the deadline. Needs a non-blocking socket.
    package func read(into buffer: UnsafeMutableRawBufferPointer, deadline: ContinuousClock.Instant) throws(SocketError)
        -> Int
    {
        while true {
            switch receive(into: buffer) {
            case .bytes(let n): return n
            case .closed: throw SocketError(.closed, "the peer closed the connection")
            case .failed(let code): throw SocketError(.io, "read: \(errnoText(code))", code: code)
            case .wouldBlock: try wait(for: .readable, until: deadline)
            }
        }
    }

    /// Writes every byte, waiting no later than `deadline`. Needs a non-blocking socket.
    package func write(_ bytes: UnsafeRawBufferPointer, deadline: ContinuousClock.Instant) throws(SocketError) {
        var offset = 0
        while offset < bytes.count {
            switch send(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            case .bytes(let n): offset += n
            case .closed: throw SocketError(.closed, "the peer closed the connection")
            case .failed(let code): throw SocketError(.io, "write: \(errnoText(code))", code: code)
            case .wouldBlock: try wait(for: .writable, until: deadline)
            }
        }
    }

    // MARK: Closing

    /// Stops both directions so a blocked peer (or a thread blocked in `accept`) sees the end at
    /// once; the descriptor stays open.
    package func shutdown() {
        guard fd >= 0 else { return }
        #if canImport(Glibc)
            _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
        #else
            _ = Darwin.shutdown(fd, SHUT_RDWR)
        #endif
    }

    /// Stops sending only (a FIN to the peer), still reading: for a server that answers and then
    /// reads what the client was still sending, so closing does not reset the answer away.
    package func shutdownWrite() {
        guard fd >= 0 else { return }
        #if canImport(Glibc)
            _ = Glibc.shutdown(fd, Int32(SHUT_WR))
        #else
            _ = Darwin.shutdown(fd, SHUT_WR)
        #endif
    }

    package func close() {
        guard fd >= 0 else { return }
        _ = systemClose(fd)
        fd = -1
    }

    // MARK: Helpers

    private static func open(family: Int32) throws(SocketError) -> Socket {
        #if canImport(Glibc)
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
        #else
            let type = SOCK_STREAM
        #endif
        let fd = socket(family, type, 0)
        guard fd >= 0 else { throw SocketError(.connect, "socket(): \(errnoText())", code: errno) }
        return Socket(fd: fd)
    }

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

/// The result of getaddrinfo, freed when it goes away.
private final class AddressList {
    private let list: UnsafeMutablePointer<addrinfo>
    let entries: [UnsafeMutablePointer<addrinfo>]

    init(host: String, port: Int, passive: Bool) throws(SocketError) {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw SocketError(.resolve, "cannot resolve host '\(host)': \(String(cString: gai_strerror(status)))")
        }
        list = first
        var entries: [UnsafeMutablePointer<addrinfo>] = []
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let info = entry {
            entries.append(info)
            entry = info.pointee.ai_next
        }
        self.entries = entries
    }

    deinit { freeaddrinfo(list) }
}

private func systemConnect(_ fd: Int32, _ address: UnsafePointer<sockaddr>?, _ length: socklen_t) -> Int32 {
    #if canImport(Glibc)
        Glibc.connect(fd, address, length)
    #else
        Darwin.connect(fd, address, length)
    #endif
}

private func systemListen(_ fd: Int32, _ backlog: Int32) -> Int32 {
    #if canImport(Glibc)
        Glibc.listen(fd, backlog)
    #else
        Darwin.listen(fd, backlog)
    #endif
}
