import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP proxy for fault tests: listens on 127.0.0.1 (a free port), forwards each accepted
/// connection to the target, and can stop forwarding (`freeze`, the link is up but silent, as a
/// dead peer behind a firewall looks) or cut connections after a number of bytes.
///
/// Two kinds of control:
/// - `setMode(_:)` applies to every connection, existing and future (the original API).
/// - Per connection: each accepted connection gets a generation number (1, 2, ... in accept order;
///   `acceptedConnections` is the last one). `freezeExisting()`, `cutExisting()` and
///   `cutExisting(afterMoreBytes:)` act on the connections accepted so far only, so a client that
///   reconnects gets a working link; `cutNextConnection(afterBytes:)` arms a cut for the next accepted
///   connection only, and `cutNewConnections(afterBytes:)` for every later one (stairway tests: cut
///   the handshake, or a publish, at every byte offset). `limitCuts` counts the connections a byte
///   limit has ended, so a test knows whether its cut happened.
///
/// Each connection has its own thread. Descriptors are closed exactly once, under the state lock, by
/// the thread that owns them; other threads only `shutdown(2)` them under the same lock, which wakes
/// the owner and never touches a descriptor number that may already be reused (closing one twice
/// once closed a reused descriptor and killed the test process with SIGPIPE). Writes use
/// `send(..., MSG_NOSIGNAL)`.
final class TCPProxy: Sendable {
    enum Mode: Sendable, Equatable {
        case forward
        /// Keep the sockets open but move no bytes in either direction.
        case frozen
        /// Close both sides once this many bytes (both directions, all connections together)
        /// have passed since `setMode`.
        case cutAfter(bytes: Int)
    }

    let port: Int
    private let listenFD: Int32
    private let targetHost: String
    private let targetPort: Int
    private let state = Mutex(State())
    private let acceptLoopEnded = DispatchSemaphore(value: 0)

    private struct Link {
        var client: Int32
        var upstream: Int32 = -1
        var frozen = false
        var cut = false
        /// Close once this many bytes (both directions) have passed on this connection.
        var cutAfter: Int?
        var transferred = 0
        /// A byte limit ended it (counted once in `State.limitCuts`).
        var limitReached = false
        /// Stop moving bytes (as `frozen`) once this many have passed.
        var freezeAfter: Int?
    }

    private struct State {
        var mode = Mode.forward
        /// Bytes through all connections since the last `setMode`.
        var transferred = 0
        var stopped = false
        var listenClosed = false
        /// The generation of the last accepted connection.
        var accepted = 0
        /// `cutAfter` for connections accepted from now on.
        var newConnectionsCutAfter: Int?
        /// `cutAfter` for the next accepted connection only.
        var nextConnectionCutAfter: Int?
        /// `freezeAfter` for the next accepted connection only.
        var nextConnectionFreezeAfter: Int?
        /// Connections ended by a byte limit (per connection or `.cutAfter`).
        var limitCuts = 0
        /// Connections whose descriptors are open, by generation.
        var links: [Int: Link] = [:]
    }

    init(targetHost: String, targetPort: Int) throws {
        self.targetHost = targetHost
        self.targetPort = targetPort
        // Close-on-exec everywhere: a child process (rabbitmqctl) holding a copy would keep a cut
        // connection open.
        let listenFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
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

    /// Sets the mode of every connection, existing and future, and restarts the byte count of
    /// `.cutAfter`. Per-connection settings still apply: a frozen or cut connection stays so.
    func setMode(_ mode: Mode) {
        state.withLock {
            $0.mode = mode
            $0.transferred = 0
        }
    }

    /// How many connections the proxy has accepted so far (including any it closed at once because
    /// the target refused); also the generation of the newest one.
    var acceptedConnections: Int { state.withLock { $0.accepted } }

    /// How many accepted connections are still open.
    var openConnections: Int { state.withLock { $0.links.count } }

    /// Stops moving bytes, both ways, on every connection accepted so far; they stay open (a peer
    /// that went silent). Connections accepted later forward normally. Returns how many were frozen.
    @discardableResult
    func freezeExisting() -> Int {
        state.withLock { s in
            for generation in s.links.keys { s.links[generation]!.frozen = true }
            return s.links.count
        }
    }

    /// Closes every connection accepted so far (the client sees the connection end); connections
    /// accepted later forward normally. Returns how many were cut.
    @discardableResult
    func cutExisting() -> Int {
        state.withLock { s in
            for (generation, link) in s.links {
                s.links[generation]!.cut = true
                Self.shutdownLink(link)
            }
            return s.links.count
        }
    }

    /// Every connection accepted from now on is closed once `bytes` bytes (both directions together)
    /// have passed on it; 0 closes it on accept without reaching the target. Existing connections
    /// are not affected.
    func cutNewConnections(afterBytes bytes: Int) {
        precondition(bytes >= 0)
        state.withLock { $0.newConnectionsCutAfter = bytes }
    }

    /// Connections accepted from now on forward normally (undoes `cutNewConnections(afterBytes:)` and
    /// `cutNextConnection(afterBytes:)`).
    func forwardNewConnections() {
        state.withLock {
            $0.newConnectionsCutAfter = nil
            $0.nextConnectionCutAfter = nil
        }
    }

    /// The next connection accepted (only that one) is closed once `bytes` bytes (both directions
    /// together) have passed on it; 0 closes it on accept. A client that reconnects afterwards gets a
    /// working link.
    func cutNextConnection(afterBytes bytes: Int) {
        precondition(bytes >= 0)
        state.withLock { $0.nextConnectionCutAfter = bytes }
    }

    /// The next connection accepted (only that one) stops moving bytes once `bytes` bytes (both
    /// directions together) have passed on it, and stays open: a link that goes silent mid-handshake.
    func freezeNextConnection(afterBytes bytes: Int) {
        precondition(bytes >= 0)
        state.withLock { $0.nextConnectionFreezeAfter = bytes }
    }

    /// Every connection open now is closed once `bytes` more bytes (both directions together) have
    /// passed on it; 0 closes it before it moves another byte. Returns how many were armed.
    @discardableResult
    func cutExisting(afterMoreBytes bytes: Int) -> Int {
        precondition(bytes >= 0)
        return state.withLock { s in
            for (generation, link) in s.links { s.links[generation]!.cutAfter = link.transferred + bytes }
            return s.links.count
        }
    }

    /// Disarms the byte limits of the connections open now (those of `cutExisting(afterMoreBytes:)`
    /// that did not fire).
    func disarmExisting() {
        state.withLock { s in
            for generation in s.links.keys { s.links[generation]!.cutAfter = nil }
        }
    }

    /// Bytes (both directions) moved on the newest connection, if it is still open.
    var newestConnectionBytes: Int? { state.withLock { s in s.links[s.accepted]?.transferred } }

    /// Bytes (both directions) moved on all connections since the last `setMode`.
    var totalBytes: Int { state.withLock { $0.transferred } }

    /// How many connections a byte limit has ended so far.
    var limitCuts: Int { state.withLock { $0.limitCuts } }

    /// Stops accepting (the port refuses connections once this returns) and ends every forwarded
    /// connection. Idempotent.
    func stop() {
        let first = state.withLock { s -> Bool in
            guard !s.stopped else { return false }
            s.stopped = true
            // The accept thread owns the listening descriptor and closes it; shutdown wakes it.
            if !s.listenClosed { shutdown(listenFD, Int32(SHUT_RDWR)) }
            for link in s.links.values { Self.shutdownLink(link) }
            return true
        }
        // The accept thread closes the listening socket at once (shutdown woke it): wait for that, so
        // the port refuses connections when this returns. (It cannot be this thread: it holds a
        // reference to the proxy until it has ended, so deinit never makes the first call.)
        if first { _ = acceptLoopEnded.wait(timeout: .now() + 2) }
    }

    deinit { stop() }

    private static func shutdownLink(_ link: Link) {
        shutdown(link.client, Int32(SHUT_RDWR))
        if link.upstream >= 0 { shutdown(link.upstream, Int32(SHUT_RDWR)) }
    }

    private func acceptLoop() {
        defer {
            state.withLock { s in
                s.listenClosed = true
                close(listenFD)
            }
            acceptLoopEnded.signal()
        }
        while !state.withLock({ $0.stopped }) {
            // Poll with a timeout as well as being woken by shutdown, so stop() never depends on the wake-up.
            var ready = pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0)
            guard poll(&ready, 1, 100) > 0 else { continue }
            let client = accept(listenFD, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            let generation = state.withLock { s -> Int? in
                guard !s.stopped else { return nil }
                s.accepted += 1
                let cutAfter = s.nextConnectionCutAfter ?? s.newConnectionsCutAfter
                s.nextConnectionCutAfter = nil
                s.links[s.accepted] = Link(client: client, cutAfter: cutAfter, freezeAfter: s.nextConnectionFreezeAfter)
                s.nextConnectionFreezeAfter = nil
                if cutAfter == 0 {
                    s.links[s.accepted]!.limitReached = true
                    s.limitCuts += 1
                }
                return s.accepted
            }
            guard let generation else {
                close(client)  // never registered: this is its only close
                return
            }
            let thread = Thread { [self] in forward(generation) }
            thread.start()
        }
    }

    /// Connects the target for one accepted connection, moves its bytes, then closes both descriptors.
    private func forward(_ generation: Int) {
        defer { finish(generation) }
        let wantsUpstream = state.withLock { s in
            guard let link = s.links[generation] else { return false }
            return link.cutAfter != 0 && !link.cut && !s.stopped
        }
        guard wantsUpstream, let upstream = try? connectUpstream() else { return }
        let registered = state.withLock { s -> Int32? in
            guard !s.stopped, let link = s.links[generation], !link.cut else { return nil }
            s.links[generation]!.upstream = upstream
            return link.client
        }
        guard let client = registered else {
            close(upstream)  // never registered: this is its only close
            return
        }
        pump(generation, client, upstream)
    }

    /// Closes the connection's descriptors: the only place they are closed. Shuts them down first, so
    /// the peers see the end even if a copy of a descriptor lives on somewhere.
    private func finish(_ generation: Int) {
        state.withLock { s in
            guard let link = s.links.removeValue(forKey: generation) else { return }
            Self.shutdownLink(link)
            close(link.client)
            if link.upstream >= 0 { close(link.upstream) }
        }
    }

    private enum Step {
        case end
        case wait
        case move(limit: Int)
    }

    /// What the connection may do now: `limit` is how many bytes may pass before it must be cut.
    private func step(_ generation: Int) -> Step {
        state.withLock { s in
            guard !s.stopped, let link = s.links[generation], !link.cut else { return .end }
            var limit = Int.max
            if case .cutAfter(let bytes) = s.mode { limit = min(limit, bytes - s.transferred) }
            if let bytes = link.cutAfter { limit = min(limit, bytes - link.transferred) }
            if limit <= 0 {
                if !link.limitReached {
                    s.links[generation]!.limitReached = true
                    s.limitCuts += 1
                }
                return .end
            }
            if s.mode == .frozen || link.frozen { return .wait }
            if let bytes = link.freezeAfter {
                if link.transferred >= bytes { return .wait }
                limit = min(limit, bytes - link.transferred)
            }
            return .move(limit: limit)
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
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ProxyError("socket: \(errno)") }
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            close(fd)
            throw ProxyError("connect")
        }
        return fd
    }

    /// Moves bytes both ways until either side closes or the connection is cut, honouring the
    /// global mode and the connection's own settings.
    private func pump(_ generation: Int, _ a: Int32, _ b: Int32) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            switch step(generation) {
            case .end: return
            case .wait:
                usleep(20_000)
                continue
            case .move: break
            }
            var fds = [
                pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0),
            ]
            let ready = poll(&fds, 2, 50)
            if ready < 0 && errno == EINTR { continue }
            guard ready >= 0 else { return }
            for (from, to, index) in [(a, b, 0), (b, a, 1)] where fds[index].revents != 0 {
                // Again per direction: the other direction or a freeze may have changed it.
                guard case .move(let limit) = step(generation) else { break }
                let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress!, min($0.count, limit), 0) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                // Counted before they are sent: a peer that has seen bytes must never find them
                // uncounted (the handshake stairway reads the count once connect() returns, and a
                // count made after the send was short by open-ok on a busy machine).
                state.withLock { s in
                    s.transferred += n
                    s.links[generation]?.transferred += n
                }
                var offset = 0
                while offset < n {
                    let w = buffer.withUnsafeBytes {
                        send(to, $0.baseAddress! + offset, n - offset, Int32(MSG_NOSIGNAL))
                    }
                    if w < 0 && errno == EINTR { continue }
                    if w <= 0 { return }
                    offset += w
                }
            }
        }
    }
}

struct ProxyError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
