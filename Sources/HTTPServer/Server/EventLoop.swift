import Foundation
import Observability
import POSIXSockets
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The server's I/O thread: one `poll()` loop over the listening socket, the wake-up pipe and every
/// connection. It accepts, reads, parses, starts a handler task per request, writes responses and
/// keeps the timeouts. Handler tasks hand responses back through `inbox` and the wake-up pipe.
///
/// `@unchecked Sendable`: apart from `inbox` (a Mutex) and `wakeup` (thread-safe), every property is
/// touched only by the loop's own thread once `start` has run.
final class EventLoop: @unchecked Sendable {
    /// Past this many unsent bytes a connection stops reading and parsing until the client reads.
    static let outputHighWater = 1 << 16
    static let readChunkSize = 1 << 16
    /// Reads per connection per turn, so one fast client cannot starve the others.
    static let readsPerTurn = 4
    /// Accepts per turn.
    static let acceptsPerTurn = 64
    /// How long a closing connection may take to send its remaining bytes and close its end.
    static let lingerTimeout = Duration.seconds(2)
    static let acceptPauseAfterFailure = Duration.milliseconds(100)

    private struct Inbox {
        var completions: [(UInt64, HTTPResponse)] = []
        var shutdownRequested = false
        /// Set once someone signalled the pipe and the loop has not yet come back for the inbox.
        var wakeupPending = false
    }

    private let inbox = Mutex(Inbox())
    private let wakeup: WakeupPipe
    private let listener: Socket
    private let configuration: HTTPServer.Configuration
    private let handler: HTTPHandler
    private let logger: Logger
    private let metrics: HTTPServerMetrics?

    private var connections: [UInt64: Connection] = [:]
    private var activeConnections = 0
    private var refusedConnections = 0
    private var nextID: UInt64 = 1
    /// Handler tasks still running, by connection id (kept after their connection closes).
    private var tasks: [UInt64: Task<Void, Never>] = [:]
    private var listening = true
    private var acceptPausedUntil: ContinuousClock.Instant?
    private var shutdownDeadline: ContinuousClock.Instant?
    private var dates = HTTPDateCache()
    private let serverName: [UInt8]?
    private var pollSet: [pollfd] = []
    private var pollOwners: [UInt64] = []
    private let readChunk: UnsafeMutableRawBufferPointer
    private var now = ContinuousClock.now
    private var onFinish: (@Sendable () -> Void)?
    /// `http_requests_total` by status, looked up once each.
    private var requestCounters: [Int: Counter] = [:]

    init(
        listener: Socket, configuration: HTTPServer.Configuration, handler: @escaping HTTPHandler, logger: Logger,
        metrics: MetricsRegistry?
    ) throws(SocketError) {
        self.wakeup = try WakeupPipe()
        self.listener = listener
        self.configuration = configuration
        self.handler = handler
        self.logger = logger
        self.metrics = metrics.map(HTTPServerMetrics.init)
        self.serverName = configuration.serverName.map { Array($0.utf8.filter(ASCII.isFieldValue)) }
        self.readChunk = .allocate(byteCount: Self.readChunkSize, alignment: 16)
    }

    deinit { readChunk.deallocate() }

    /// Starts the loop's thread; `onFinish` runs on it once the loop has shut down.
    func start(onFinish: @escaping @Sendable () -> Void) {
        self.onFinish = onFinish
        let thread = Thread { [self] in
            run()
            self.onFinish?()
            self.onFinish = nil
        }
        thread.name = "http-server"
        thread.start()
    }

    /// Asks for a graceful shutdown; safe from any thread, any number of times.
    func requestShutdown() {
        let signal = inbox.withLock { inbox -> Bool in
            inbox.shutdownRequested = true
            defer { inbox.wakeupPending = true }
            return !inbox.wakeupPending
        }
        if signal { wakeup.signal() }
    }

    /// Called by a handler task with its response.
    private func complete(_ id: UInt64, _ response: HTTPResponse) {
        let signal = inbox.withLock { inbox -> Bool in
            inbox.completions.append((id, response))
            defer { inbox.wakeupPending = true }
            return !inbox.wakeupPending
        }
        if signal { wakeup.signal() }
    }

    // MARK: The loop

    private func run() {
        while true {
            now = .now
            let (completions, shutdownRequested) = inbox.withLock { inbox in
                let taken = inbox.completions
                inbox.completions.removeAll(keepingCapacity: true)
                // Nothing to do: the loop may sleep, so the next completion must signal.
                if taken.isEmpty { inbox.wakeupPending = false }
                return (taken, inbox.shutdownRequested)
            }
            if shutdownRequested && shutdownDeadline == nil { beginShutdown() }
            for (id, response) in completions { deliver(response, to: id) }

            expireTimers()
            if let shutdownDeadline {
                connections.values.filter(\.isIdle).forEach(close)
                if connections.isEmpty && tasks.isEmpty { break }
                if now >= shutdownDeadline {
                    forceStop()
                    break
                }
            }

            // After taking completions the wake-up flag is still set, so later completions did not
            // signal: only look (timeout 0), then come back for them.
            pollOnce(timeout: completions.isEmpty ? timeoutMilliseconds() : 0)
        }
        if listening {
            listener.close()
            listening = false
        }
    }

    private func pollOnce(timeout: Int32) {
        pollSet.removeAll(keepingCapacity: true)
        pollOwners.removeAll(keepingCapacity: true)
        pollSet.append(pollfd(fd: wakeup.readFD, events: Int16(POLLIN), revents: 0))
        let acceptPaused = acceptPausedUntil.map { now < $0 } ?? false
        if listening && !acceptPaused {
            pollSet.append(pollfd(fd: listener.fd, events: Int16(POLLIN), revents: 0))
        }
        let fixed = pollSet.count
        for connection in connections.values {
            var events: Int32 = 0
            if connection.wantsRead { events |= Int32(POLLIN) }
            if connection.pendingOutput > 0 { events |= Int32(POLLOUT) }
            pollSet.append(pollfd(fd: connection.socket.fd, events: Int16(events), revents: 0))
            pollOwners.append(connection.id)
        }
        let rc = poll(&pollSet, nfds_t(pollSet.count), timeout)
        now = .now
        guard rc > 0 else {
            if rc < 0 && errno != EINTR { logger.error("poll failed", metadata: ["error": errnoText()]) }
            return
        }
        if pollSet[0].revents != 0 { wakeup.drain() }
        if fixed == 2 && pollSet[1].revents != 0 { acceptConnections() }
        for index in fixed..<pollSet.count {
            let events = Int32(pollSet[index].revents)
            guard events != 0, let connection = connections[pollOwners[index - fixed]] else { continue }
            if events & Int32(POLLNVAL) != 0 {
                close(connection)
                continue
            }
            if events & Int32(POLLOUT | POLLERR | POLLHUP) != 0 && connection.pendingOutput > 0 {
                flush(connection)
                guard connections[connection.id] != nil else { continue }
                // Requests already buffered may have waited for the output to drain: no read
                // event will come for them.
                process(connection)
                guard connections[connection.id] != nil else { continue }
            }
            if events & Int32(POLLIN | POLLERR | POLLHUP) != 0 {
                if connection.wantsRead {
                    read(connection)
                } else if events & Int32(POLLERR | POLLHUP) != 0 && connection.pendingOutput == 0 {
                    // Not reading (a handler runs), but the peer is gone: poll would say so again at once.
                    close(connection)
                }
            }
        }
    }

    private func timeoutMilliseconds() -> Int32 {
        var next = shutdownDeadline
        if let paused = acceptPausedUntil, now < paused { next = min(next ?? paused, paused) }
        for connection in connections.values {
            if let deadline = deadline(of: connection) { next = min(next ?? deadline, deadline) }
        }
        guard let next else { return -1 }
        let remaining = next - now
        guard remaining > .zero else { return 0 }
        let (seconds, attoseconds) = remaining.components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
    }

    // MARK: Accepting

    private func acceptConnections() {
        for _ in 0..<Self.acceptsPerTurn {
            let socket: Socket
            do {
                socket = try listener.accept()
                try socket.setNonBlocking()
            } catch {
                if error.code == EAGAIN || error.code == EWOULDBLOCK { return }
                if error.kind == .closed {
                    listening = false
                    return
                }
                // Out of descriptors or memory: retrying at once would spin; try again shortly.
                logger.warning("accept failed", metadata: ["error": error.message])
                acceptPausedUntil = now + Self.acceptPauseAfterFailure
                return
            }
            let id = nextID
            nextID += 1
            if activeConnections >= configuration.maxConnections {
                metrics?.rejected.increment()
                // Refused connections linger too, but only as many as could be served at once.
                guard refusedConnections < configuration.maxConnections else {
                    socket.close()
                    continue
                }
                let connection = Connection(
                    id: id, socket: socket, counted: false, limits: configuration.limits, now: now)
                refusedConnections += 1
                connections[id] = connection
                connection.output = Self.serviceUnavailable
                connection.closeAfterWrite = true
                flush(connection)
                continue
            }
            activeConnections += 1
            metrics?.active.set(Double(activeConnections))
            connections[id] = Connection(id: id, socket: socket, counted: true, limits: configuration.limits, now: now)
        }
    }

    static let serviceUnavailable = Array(
        ("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 29\r\n"
            + "Retry-After: 1\r\nConnection: close\r\n\r\ntoo many connections; retry\r\n").utf8)

    // MARK: Reading and parsing

    private func read(_ connection: Connection) {
        for _ in 0..<Self.readsPerTurn {
            switch connection.socket.receive(into: readChunk) {
            case .bytes(let count):
                if connection.isLingering { continue }  // dropped
                connection.parser.append(UnsafeRawBufferPointer(rebasing: readChunk[0..<count]))
                process(connection)
                guard connections[connection.id] != nil, connection.wantsRead else { return }
                if count < readChunk.count { return }
            case .wouldBlock:
                return
            case .closed:
                if connection.isLingering {
                    close(connection)
                } else {
                    // Answer what is already buffered (a client may send its requests and shut down
                    // its side at once), then close.
                    connection.inputClosed = true
                    process(connection)
                }
                return
            case .failed:
                close(connection)
                return
            }
        }
    }

    /// Parses and dispatches what the connection's parser holds, while it may: one request at a
    /// time, and not while the client is behind on reading responses.
    private func process(_ connection: Connection) {
        guard !connection.isLingering else { return }
        while !connection.handling && !connection.closeAfterWrite
            && connection.pendingOutput < Self.outputHighWater
        {
            switch connection.parser.next() {
            case .needMoreBytes:
                if connection.inputClosed { connection.closeAfterWrite = true }  // no more bytes will come
                notePhase(connection)
                flush(connection)
                return
            case .continueRequested:
                connection.output.append(contentsOf: ResponseWriter.continueResponse)
            case .request(let request):
                startHandler(request, on: connection)
            case .error(let status):
                logger.debug("refused a request", metadata: ["status": String(status.code)])
                respond(to: connection, with: HTTPError(status).response, keepAlive: false)
            }
        }
        notePhase(connection)
        flush(connection)
    }

    private func notePhase(_ connection: Connection) {
        let phase = connection.parser.phase
        if phase != connection.phase {
            connection.phase = phase
            connection.phaseStart = now
        }
    }

    // MARK: Handling

    private func startHandler(_ request: HTTPRequest, on connection: Connection) {
        connection.handling = true
        connection.requestIsHead = request.method == .head
        connection.requestKeepAlive = request.keepAliveRequested
        connection.requestIsHTTP10 = request.version == .http1_0
        let id = connection.id
        let handler = self.handler
        let logger = self.logger
        let metrics = self.metrics
        tasks[id] = Task { [self] in
            let start = ContinuousClock.now
            let response: HTTPResponse
            do {
                response = try await handler(request)
            } catch let error as HTTPError {
                response = error.response
            } catch {
                logger.error(
                    "handler failed",
                    metadata: ["method": request.method.rawValue, "path": String(request.path), "error": "\(error)"])
                response = HTTPError(.internalServerError).response
            }
            metrics?.duration.observe(Self.seconds(ContinuousClock.now - start))
            self.complete(id, response)
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    private func deliver(_ response: HTTPResponse, to id: UInt64) {
        tasks[id] = nil
        guard let connection = connections[id], connection.handling else { return }
        connection.handling = false
        let keepAlive =
            connection.requestKeepAlive && shutdownDeadline == nil
            && !response.headers.containsToken("close", in: "Connection")
        respond(to: connection, with: response, keepAlive: keepAlive)
        connection.phaseStart = now  // the idle time starts now
        process(connection)
    }

    private func respond(to connection: Connection, with response: HTTPResponse, keepAlive: Bool) {
        let framing = ResponseWriter.Framing(
            headOnly: connection.requestIsHead, keepAlive: keepAlive,
            confirmKeepAlive: keepAlive && connection.requestIsHTTP10)
        var status = response.status
        if !ResponseWriter.write(
            response, framing: framing, date: dates.current(), serverName: serverName, into: &connection.output)
        {
            logger.error("a handler's response has a field or status that cannot be sent safely; sent 500 instead")
            status = .internalServerError
            _ = ResponseWriter.write(
                HTTPError(.internalServerError).response, framing: framing, date: dates.current(),
                serverName: serverName, into: &connection.output)
        }
        if let metrics {
            if let counter = requestCounters[status.code] {
                counter.increment()
            } else {
                let counter = metrics.requests(status: status.code)
                requestCounters[status.code] = counter
                counter.increment()
            }
        }
        if !keepAlive { connection.closeAfterWrite = true }
        connection.requestIsHead = false
    }

    // MARK: Writing and closing

    private func flush(_ connection: Connection) {
        while connection.pendingOutput > 0 {
            let result = connection.output.withUnsafeBytes { bytes in
                connection.socket.send(UnsafeRawBufferPointer(rebasing: bytes[connection.outputOffset...]))
            }
            switch result {
            case .bytes(let count):
                connection.outputOffset += count
                connection.lastWriteProgress = now
            case .wouldBlock:
                return
            case .closed, .failed:
                close(connection)
                return
            }
        }
        if connection.outputOffset > 0 {
            connection.output.removeAll(keepingCapacity: connection.output.capacity <= 1 << 20)
            connection.outputOffset = 0
        }
        if connection.closeAfterWrite && !connection.isLingering { linger(connection) }
    }

    private func linger(_ connection: Connection) {
        if connection.inputClosed {
            close(connection)
            return
        }
        connection.socket.shutdownWrite()
        let deadline = now + Self.lingerTimeout
        connection.stage = .lingering(deadline: shutdownDeadline.map { min($0, deadline) } ?? deadline)
    }

    private func close(_ connection: Connection) {
        guard connections.removeValue(forKey: connection.id) != nil else { return }
        connection.socket.close()
        if connection.counted {
            activeConnections -= 1
            metrics?.active.set(Double(activeConnections))
        } else {
            refusedConnections -= 1
        }
    }

    // MARK: Timeouts

    private func deadline(of connection: Connection) -> ContinuousClock.Instant? {
        if case .lingering(let deadline) = connection.stage { return deadline }
        if connection.pendingOutput > 0 { return connection.lastWriteProgress + configuration.writeTimeout }
        if connection.handling || connection.closeAfterWrite || connection.inputClosed { return nil }
        switch connection.phase {
        case .idle: return connection.phaseStart + configuration.idleTimeout
        case .head: return connection.phaseStart + configuration.headerTimeout
        case .body: return connection.phaseStart + configuration.bodyTimeout
        }
    }

    private func expireTimers() {
        for connection in connections.values {
            guard let deadline = deadline(of: connection), deadline <= now else { continue }
            if connection.isLingering || connection.pendingOutput > 0 || connection.phase == .idle {
                close(connection)  // done lingering, a client that stopped reading, or an idle keep-alive
            } else {
                logger.debug("request timed out", metadata: ["phase": "\(connection.phase)"])
                respond(to: connection, with: HTTPError(.requestTimeout).response, keepAlive: false)
                flush(connection)
            }
        }
    }

    // MARK: Shutdown

    private func beginShutdown() {
        shutdownDeadline = now + configuration.shutdownGracePeriod
        if listening {
            listener.close()
            listening = false
        }
        logger.info(
            "shutting down", metadata: ["connections": String(connections.count), "handlers": String(tasks.count)])
    }

    private func forceStop() {
        logger.warning(
            "shutdown grace period over; closing what is left",
            metadata: ["connections": String(connections.count), "handlers": String(tasks.count)])
        for task in tasks.values { task.cancel() }
        tasks.removeAll()
        connections.values.forEach(close)
    }
}

/// The metrics the server keeps, looked up once.
struct HTTPServerMetrics: Sendable {
    let registry: MetricsRegistry
    let active: Gauge
    let rejected: Counter
    let duration: Histogram

    init(_ registry: MetricsRegistry) {
        self.registry = registry
        active = registry.gauge("http_connections_active", help: "HTTP connections being served")
        rejected = registry.counter(
            "http_connections_rejected_total", help: "HTTP connections refused with 503 past the connection limit")
        duration = registry.histogram(
            "http_request_duration_seconds", help: "Time HTTP handlers take, from the request to the response")
    }

    func requests(status: Int) -> Counter {
        registry.counter(
            "http_requests_total", help: "HTTP responses sent, by status", labels: ["status": String(status)])
    }
}
