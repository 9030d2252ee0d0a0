import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP proxy for fault tests: listens on 127.0.0.1 (a free port), forwards each accepted
/// connection to the target, and can stop forwarding (`freeze`, the link is up but silent, as a
/// dead peer behind a firewall looks) or cut connections after a number of bytes.
final class TCPProxy: Sendable {
    enum Mode: Sendable, Equatable {
        case forward
        /// Keep the sockets open but move no bytes in either direction.
        case frozen
        /// Close both sides once this many bytes (both directions together) have passed.
        case cutAfter(bytes: Int)
    }

    let port: Int
    private let listenFD: Int32
    private let targetHost: String
    private let targetPort: Int
    private let state = Mutex<(mode: Mode, transferred: Int, stopped: Bool)>((.forward, 0, false))

    init(targetHost: String, targetPort: Int) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listenFD >= 0 else { throw ProxyError("socket: \(errno)") }
        self.listenFD = listenFD
        var one: Int32 = 1
        setsockopt(listenFD, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listenFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(listenFD, 16) == 0 else {
            close(listenFD)
            throw ProxyError("bind/listen: \(errno)")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listenFD, $0, &length) }
        }
        self.port = Int(UInt16(bigEndian: address.sin_port))
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// A proxy in front of the broker `AMQP_URL` names.
    static func forBroker() throws -> TCPProxy {
        let config = try Broker.configuration
        let endpoint = try #require(config.endpoints.first)
        return try TCPProxy(targetHost: endpoint.host, targetPort: endpoint.port)
    }

    func setMode(_ mode: Mode) {
        state.withLock {
            $0.mode = mode
            $0.transferred = 0
        }
    }

    /// Stops accepting and ends every forwarded connection. Idempotent: closing the listening
    /// descriptor twice would close whatever reused its number (a connection's wake-up pipe, once).
    func stop() {
        let first = state.withLock { s -> Bool in
            defer { s.stopped = true }
            return !s.stopped
        }
        guard first else { return }
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
    }

    deinit { stop() }

    private var stopped: Bool { state.withLock { $0.stopped } }

    private func acceptLoop() {
        while !stopped {
            let client = accept(listenFD, nil, nil)
            guard client >= 0 else {
                if stopped { return }
                continue
            }
            guard let upstream = try? connectUpstream() else {
                close(client)
                continue
            }
            let thread = Thread { [self] in pump(client, upstream) }
            thread.start()
        }
    }

    private func connectUpstream() throws -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(targetHost, String(targetPort), &hints, &list) == 0, let info = list else {
            throw ProxyError("resolve")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue), 0)
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            close(fd)
            throw ProxyError("connect")
        }
        return fd
    }

    /// Moves bytes both ways until either side closes, honouring the mode.
    private func pump(_ a: Int32, _ b: Int32) {
        defer {
            close(a)
            close(b)
        }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while !stopped {
            let mode = state.withLock { $0.mode }
            if mode == .frozen {
                usleep(20_000)
                continue
            }
            var fds = [
                pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0),
            ]
            guard poll(&fds, 2, 50) >= 0 else { return }
            for (from, to, index) in [(a, b, 0), (b, a, 1)] where fds[index].revents != 0 {
                var limit = buffer.count
                if case .cutAfter(let bytes) = mode {
                    let left = bytes - state.withLock { $0.transferred }
                    if left <= 0 { return }
                    limit = min(limit, left)
                }
                let n = read(from, &buffer, limit)
                if n <= 0 { return }
                var offset = 0
                while offset < n {
                    let w = buffer.withUnsafeBytes {
                        send(to, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL))
                    }
                    if w <= 0 { return }
                    offset += w
                }
                state.withLock { $0.transferred += n }
            }
        }
    }
}

struct ProxyError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
