import POSIXSockets

/// One client connection, owned by the event loop's thread (not thread-safe, so not `Sendable`).
final class Connection {
    enum Stage {
        /// Reading requests, handling them, writing responses.
        case serving
        /// The last response is out and writing is shut down; reading and dropping what the client
        /// still sends until it closes or `deadline`, so closing does not reset the response away.
        case lingering(deadline: ContinuousClock.Instant)
    }

    let id: UInt64
    let socket: Socket
    /// Whether it counts against `maxConnections` (a refused connection does not).
    let counted: Bool
    var stage = Stage.serving
    var parser: HTTPRequestParser

    /// Bytes to send, from `outputOffset` on.
    var output: [UInt8] = []
    var outputOffset = 0
    /// When the last write made progress (for the write timeout).
    var lastWriteProgress: ContinuousClock.Instant

    /// A handler is running for the current request; no more requests are parsed until it answers.
    var handling = false
    /// The request being handled, as far as the response framing needs it.
    var requestIsHead = false
    var requestKeepAlive = false
    var requestIsHTTP10 = false
    /// After the output is written, linger and close.
    var closeAfterWrite = false
    /// The client shut down its sending side.
    var inputClosed = false

    /// The parser's phase when last looked at, and since when, for the read timeouts.
    var phase = HTTPRequestParser.Phase.idle
    var phaseStart: ContinuousClock.Instant

    init(id: UInt64, socket: Socket, counted: Bool, limits: HTTPRequestLimits, now: ContinuousClock.Instant) {
        self.id = id
        self.socket = socket
        self.counted = counted
        self.parser = HTTPRequestParser(limits: limits)
        self.lastWriteProgress = now
        self.phaseStart = now
    }

    var pendingOutput: Int { output.count - outputOffset }

    var isLingering: Bool {
        if case .lingering = stage { return true }
        return false
    }

    /// Idle between requests: nothing being received, handled or written.
    var isIdle: Bool {
        !isLingering && !handling && pendingOutput == 0 && parser.phase == .idle
    }

    /// Whether the loop should poll for bytes to read.
    var wantsRead: Bool {
        switch stage {
        case .lingering: true
        case .serving: !handling && !closeAfterWrite && !inputClosed && pendingOutput < EventLoop.outputHighWater
        }
    }
}
