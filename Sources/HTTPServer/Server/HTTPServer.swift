public import Observability
import POSIXSockets
import Synchronization

/// An HTTP/1.1 server: keep-alive, pipelining, fixed-length and chunked request bodies,
/// `Expect: 100-continue`, limits against slow and oversized requests, and graceful shutdown.
///
/// ```swift
/// var router = Router()
/// router.get("/health") { _ in .text("ok") }
/// let server = try HTTPServer(configuration: .init(host: "0.0.0.0", port: 8080), router: router)
/// try await server.run()  // until the task is cancelled
/// ```
///
/// ## Concurrency model
/// One dedicated thread runs a `poll()` event loop over the listening socket and every connection
/// (all non-blocking), so no blocking socket call ever runs on Swift concurrency's cooperative
/// threads (two of them on a two-core machine: one blocked read would halve the service). The
/// loop reads, parses, writes and keeps the timers; each request's handler runs as a `Task` on
/// the cooperative pool, and hands its response back through a locked queue and a wake-up pipe.
/// One thread for all connections, rather than one per connection, keeps idle keep-alive
/// connections cheap (a descriptor and a small buffer) and makes the connection cap a number
/// rather than a thread count. Requests on one connection are handled one at a time, in order,
/// which is what keeps pipelined responses in order.
///
/// ## Limits
/// See `Configuration` and `HTTPRequestLimits` for every limit, its status code and its default.
/// Past `maxConnections`, a new connection is answered `503 Service Unavailable` with
/// `Retry-After: 1` and closed at once, rather than left waiting in the listen backlog: a client
/// or load balancer learns at once that this instance is full.
///
/// ## Shutdown
/// Cancelling the task that runs `run()` stops accepting (the listening socket closes), closes
/// idle keep-alive connections, lets requests already being received or handled finish (their
/// responses say `Connection: close`), and returns once all are done, or after
/// `shutdownGracePeriod`, when it closes what is left and cancels the handlers still running.
///
/// Not supported: TLS (put a reverse proxy in front), HTTP/2, response streaming (bodies are
/// whole byte arrays), request bodies larger than memory allows.
public final class HTTPServer: Sendable {
    /// Where to listen, and the limits and timeouts the server enforces.
    public struct Configuration: Sendable {
        /// The address to bind, `127.0.0.1` by default; `0.0.0.0` or `::` for every interface.
        public var host: String
        /// The port; 0 picks a free one (read it from `HTTPServer.port`). Default 8080.
        public var port: Int
        /// The kernel's queue of connections not yet accepted. Default 511.
        public var backlog: Int32
        /// Connections served at once; past it, new connections get 503 and are closed. Default 512.
        public var maxConnections: Int
        /// Size limits for requests (414, 431, 413).
        public var limits: HTTPRequestLimits
        /// How long a keep-alive connection may wait for the first byte of its next request before
        /// it is closed (silently: the client has not asked anything). Default 60 s.
        public var idleTimeout: Duration
        /// How long a request head may take from its first byte to its last: past it, 408 and close.
        /// This is what stops a slowloris client trickling header bytes. Default 10 s.
        public var headerTimeout: Duration
        /// How long a request body may take from the end of the head: past it, 408 and close. Default 30 s.
        public var bodyTimeout: Duration
        /// How long a response may wait for the client to read any of it before the connection
        /// is closed. Default 30 s.
        public var writeTimeout: Duration
        /// How long `run()` waits for in-flight requests after cancellation. Default 30 s.
        public var shutdownGracePeriod: Duration
        /// Sent as the `Server` field when set. Default nil (no field).
        public var serverName: String?

        /// A configuration with the defaults above, or the values given.
        public init(
            host: String = "127.0.0.1", port: Int = 8080, backlog: Int32 = 511, maxConnections: Int = 512,
            limits: HTTPRequestLimits = HTTPRequestLimits(), idleTimeout: Duration = .seconds(60),
            headerTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(30),
            writeTimeout: Duration = .seconds(30), shutdownGracePeriod: Duration = .seconds(30),
            serverName: String? = nil
        ) {
            self.host = host
            self.port = port
            self.backlog = backlog
            self.maxConnections = maxConnections
            self.limits = limits
            self.idleTimeout = idleTimeout
            self.headerTimeout = headerTimeout
            self.bodyTimeout = bodyTimeout
            self.writeTimeout = writeTimeout
            self.shutdownGracePeriod = shutdownGracePeriod
            self.serverName = serverName
        }
    }

    /// The configuration the server was made with.
    public let configuration: Configuration
    /// The port the server listens on (the one picked when `configuration.port` is 0).
    public let port: Int
    private let handler: HTTPHandler
    private let logger: Logger
    private let metrics: MetricsRegistry?
    /// The listening socket. `nonisolated(unsafe)`: only the event loop of the one `run()` that
    /// claims it (`listenerClaimed`) touches it; the server only keeps it alive.
    private nonisolated(unsafe) let listenerSocket: Socket
    private let listenerClaimed = Mutex(false)

    /// Binds and listens at once, so the port is known (and taken) before `run()`.
    /// - Parameters:
    ///   - logger: Where the server logs starts, stops and handler errors (protocol errors at debug).
    ///   - metrics: When given, the server keeps `http_requests_total{status}`,
    ///     `http_request_duration_seconds`, `http_connections_active` and
    ///     `http_connections_rejected_total` there.
    ///   - handler: Answers every request; see `Router`.
    /// - Throws: `HTTPServerError` when the address cannot be bound.
    public init(
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "http-server"),
        metrics: MetricsRegistry? = nil, handler: @escaping HTTPHandler
    ) throws(HTTPServerError) {
        let socket: Socket
        do {
            socket = try Socket.listen(
                host: configuration.host, port: configuration.port, backlog: configuration.backlog)
            try socket.setNonBlocking()
        } catch {
            throw HTTPServerError(.bind, error.message)
        }
        self.configuration = configuration
        self.port = socket.localPort ?? configuration.port
        self.handler = handler
        self.logger = logger
        self.metrics = metrics
        self.listenerSocket = socket
    }

    /// A server whose requests `router` answers.
    public convenience init(
        configuration: Configuration = Configuration(), logger: Logger = Logger(label: "http-server"),
        metrics: MetricsRegistry? = nil, router: Router
    ) throws(HTTPServerError) {
        try self.init(configuration: configuration, logger: logger, metrics: metrics, handler: router.handler)
    }

    /// Serves until the calling task is cancelled, then shuts down gracefully (see the type's
    /// documentation) and returns.
    /// - Throws: `HTTPServerError` when called a second time, or when the event loop cannot start.
    public func run() async throws {
        guard let loop = try makeLoop() else {
            throw HTTPServerError(.alreadyRunning, "run() was already called on this server")
        }
        logger.info("listening", metadata: ["host": configuration.host, "port": String(port)])
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                loop.start { continuation.resume() }
            }
        } onCancel: {
            loop.requestShutdown()
        }
        logger.info("stopped", metadata: ["port": String(port)])
    }

    private func makeLoop() throws(HTTPServerError) -> EventLoop? {
        let first = listenerClaimed.withLock { claimed -> Bool in
            if claimed { return false }
            claimed = true
            return true
        }
        guard first else { return nil }
        do {
            return try EventLoop(
                listener: listenerSocket, configuration: configuration, handler: handler, logger: logger,
                metrics: metrics)
        } catch {
            throw HTTPServerError(.system, error.message)
        }
    }
}

/// Why the server could not start or run.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, as a value to compare against.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        /// The address could not be bound or listened on.
        public static let bind = Code(name: "bind")
        /// `run()` was called twice.
        public static let alreadyRunning = Code(name: "alreadyRunning")
        /// A system call the server needs failed.
        public static let system = Code(name: "system")
        public var description: String { name }
    }

    /// What went wrong.
    public var code: Code
    /// What went wrong, in words, with the system's reason.
    public var message: String

    /// An error with a code and a message.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
