import Dispatch
import POSIXSockets

@testable import AMQPWire

#if canImport(Glibc)
    import Glibc
#endif

/// The broker's end of a `socketpair()` whose other end an ``AMQPConnection`` speaks AMQP over.
/// A test plays the broker's part step by step: it expects what the client must send and sends
/// what a broker would, encoded and decoded with the production codec.
///
/// Every expectation waits at most ``timeout`` and then throws, failing the test with what was
/// awaited. Any failure also shuts the socket down, so the client fails everything it has
/// pending instead of waiting for a broker that stopped playing.
///
/// The blocking reads and writes run on the broker's own serial queue, never on the Swift
/// concurrency pool, so tests running in parallel cannot starve the client of threads.
final class FakeBroker: @unchecked Sendable {
    // @unchecked: `inbound` and `decoder` are touched only on `queue`, one operation at a time.
    private let queue = DispatchQueue(label: "fake-broker")
    private let fd: Int32
    let clientFD: Int32
    private var inbound = WireBuffer()
    private var decoder = AMQPFrameDecoder(maxFrameSize: 1 << 24)
    /// How long each expectation waits for the client.
    let timeout: Duration

    init(timeout: Duration = .seconds(5)) throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else {
            throw FakeBrokerFailure("socketpair(): \(String(cString: strerror(errno)))")
        }
        fd = fds[0]
        clientFD = fds[1]
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.timeout = timeout
    }

    deinit { Glibc.close(fd) }

    /// Starts `AMQPConnection.connect` over the client's end; call once.
    func startClient(_ configuration: AMQPConnectionConfiguration = .fakeBroker) -> Task<AMQPConnection, any Error> {
        let fd = clientFD
        return Task { try await AMQPConnection.connect(configuration, socket: Socket(fd: fd)) }
    }

    /// Connects a client, plays the handshake, runs `body`, then drops the broker's end (which
    /// ends the client's I/O thread).
    static func withConnection(
        _ configuration: AMQPConnectionConfiguration = .fakeBroker, tune: AMQPMethod.Connection.Tune = .fakeBroker,
        _ body: (FakeBroker, AMQPConnection) async throws -> Void
    ) async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        let client = broker.startClient(configuration)
        try await broker.handshake(tune: tune)
        let connection = try await within("connect()") { try await client.value }
        defer { withExtendedLifetime(connection) {} }
        try await body(broker, connection)
    }

    // MARK: Sending

    func send(_ frame: AMQPFrame) async throws { try await send(frames: [frame]) }

    /// Sends the frames in one write.
    func send(frames: [AMQPFrame]) async throws {
        var buffer = WireBuffer()
        for frame in frames { try AMQPFrameEncoder.encode(frame, into: &buffer) }
        try await sendRaw(buffer.readableBytesArray)
    }

    func send(method: AMQPMethod, channel: UInt16 = 0) async throws {
        try await send(.method(channel: channel, method))
    }

    /// Sends a method that carries content, its header and its body in frames that fit `frameMax`.
    func sendContent(
        _ method: AMQPMethod, channel: UInt16, properties: BasicProperties = BasicProperties(), body: [UInt8],
        frameMax: UInt32 = 131_072
    ) async throws {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeContent(
            method, channel: channel, properties: properties, body: body, frameMax: frameMax, into: &buffer)
        try await sendRaw(buffer.readableBytesArray)
    }

    func sendRaw(_ bytes: [UInt8]) async throws {
        try await perform { broker in try broker.write(bytes) }
    }

    /// Sends `method` and shuts the socket down in the same turn of the broker's queue, so the client
    /// reads the method and the end of the connection together.
    func send(method: AMQPMethod, thenClose: Void) async throws {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encode(.method(channel: 0, method), into: &buffer)
        let bytes = buffer.readableBytesArray
        try await perform { broker in
            try broker.write(bytes)
            broker.close()
        }
    }

    // MARK: Expecting

    func expectProtocolHeader() async throws {
        let header = try await perform { broker in try broker.readBytes(8, what: "the protocol header") }
        guard header == AMQPFrame.protocolHeader else {
            throw FakeBrokerFailure("expected the protocol header AMQP 0 0 9 1, got \(header)")
        }
    }

    /// The client's next frame.
    func expectFrame(skippingHeartbeats: Bool = false) async throws -> AMQPFrame {
        try await perform { broker in
            while true {
                let frame = try broker.readFrame()
                if frame != .heartbeat || !skippingHeartbeats { return frame }
            }
        }
    }

    /// The client's next frame, which must be a method on `channel` (heartbeats are skipped).
    func expectMethod(channel: UInt16 = 0) async throws -> AMQPMethod {
        let frame = try await expectFrame(skippingHeartbeats: true)
        guard case .method(channel, let method) = frame else {
            throw FakeBrokerFailure("expected a method on channel \(channel), got \(frame)")
        }
        return method
    }

    /// The client's next method on `channel`, which `match` must accept.
    func expectMethod<T>(channel: UInt16 = 0, _ what: String, _ match: (AMQPMethod) -> T?) async throws -> T {
        let method = try await expectMethod(channel: channel)
        guard let value = match(method) else {
            throw FakeBrokerFailure("expected \(what), got \(method.id): \(method)")
        }
        return value
    }

    /// A message as the client sent it: its method, header and body frames.
    struct Content: Sendable {
        var method: AMQPMethod
        var header: ContentHeader
        var bodyFrames: [[UInt8]]
        var body: [UInt8] { bodyFrames.flatMap { $0 } }
    }

    /// The client's next message on `channel`: a method frame, a header frame, and body frames up
    /// to the size the header announces, with nothing of any other channel in between.
    func expectContent(channel: UInt16) async throws -> Content {
        try await perform { broker in
            let first = try broker.readFrame()
            guard case .method(channel, let method) = first, method.hasContent else {
                throw FakeBrokerFailure("expected a content method on channel \(channel), got \(first)")
            }
            let second = try broker.readFrame()
            guard case .header(channel, let header) = second else {
                throw FakeBrokerFailure(
                    "expected the content header of \(method.id) on channel \(channel), got \(second)")
            }
            var content = Content(method: method, header: header, bodyFrames: [])
            var received: UInt64 = 0
            while received < header.bodySize {
                let next = try broker.readFrame()
                guard case .body(channel, let bytes) = next else {
                    throw FakeBrokerFailure(
                        "expected body frames of \(method.id) (\(received) of \(header.bodySize) bytes so far), got \(next)"
                    )
                }
                content.bodyFrames.append(Array(bytes))
                received += UInt64(bytes.count)
            }
            guard received == header.bodySize else {
                throw FakeBrokerFailure("body frames carry \(received) bytes; the header announced \(header.bodySize)")
            }
            return content
        }
    }

    /// Waits until the client closes its end, discarding what it still sends.
    func expectClientClosed() async throws {
        try await perform { broker in
            while true {
                do {
                    try broker.fill(what: "the client to close the connection")
                } catch is ClientClosed {
                    return
                }
                broker.inbound.clear()
            }
        }
    }

    // MARK: Scripts

    /// What the client sent during the handshake.
    struct Handshake: Sendable {
        var startOk: AMQPMethod.Connection.StartOk
        var tuneOk: AMQPMethod.Connection.TuneOk
        var open: AMQPMethod.Connection.Open
    }

    /// Plays the broker's side of the handshake: start, tune, open-ok. From then on the broker
    /// refuses frames larger than the frame_max the client agreed to.
    @discardableResult
    func handshake(
        tune: AMQPMethod.Connection.Tune = .fakeBroker, mechanisms: String = "PLAIN AMQPLAIN"
    ) async throws -> Handshake {
        try await expectProtocolHeader()
        try await send(method: .connection(.start(Self.start(mechanisms: mechanisms))))
        let startOk = try await expectMethod("connection.start-ok") {
            if case .connection(.startOk(let m)) = $0 { m } else { nil }
        }
        try await send(method: .connection(.tune(tune)))
        let tuneOk = try await expectMethod("connection.tune-ok") {
            if case .connection(.tuneOk(let m)) = $0 { m } else { nil }
        }
        let open = try await expectMethod("connection.open") {
            if case .connection(.open(let m)) = $0 { m } else { nil }
        }
        let frameMax = tuneOk.frameMax
        try await perform { broker in broker.decoder.maxFrameSize = frameMax }
        try await send(method: .connection(.openOk(.init())))
        return Handshake(startOk: startOk, tuneOk: tuneOk, open: open)
    }

    /// A `connection.start` like RabbitMQ's.
    static func start(mechanisms: String = "PLAIN AMQPLAIN") -> AMQPMethod.Connection.Start {
        AMQPMethod.Connection.Start(
            versionMajor: 0, versionMinor: 9,
            serverProperties: [
                "product": "FakeBroker",
                "capabilities": .table([
                    "publisher_confirms": true, "exchange_exchange_bindings": true, "basic.nack": true,
                    "consumer_cancel_notify": true, "connection.blocked": true,
                    "authentication_failure_close": true, "per_consumer_qos": true, "direct_reply_to": true,
                ]),
            ],
            mechanisms: Array(mechanisms.utf8), locales: Array("en_US".utf8))
    }

    /// Answers the client's `channel.open` on `id`.
    func openChannel(_ id: UInt16) async throws {
        let method = try await expectMethod(channel: id)
        guard method == .channel(.open(.init())) else {
            throw FakeBrokerFailure("expected channel.open on channel \(id), got \(method)")
        }
        try await send(method: .channel(.openOk(.init())), channel: id)
    }

    /// Plays the broker's side of `consume` on a channel without a prefetch: the client first sets
    /// a per-consumer prefetch equal to the buffer capacity, then consumes. Returns the consume method.
    @discardableResult
    func acceptConsume(channel: UInt16, tag: String = "ctag-1", prefetch: UInt16 = 1024) async throws
        -> AMQPMethod.Basic.Consume
    {
        let qos = try await expectMethod(channel: channel)
        guard qos == .basic(.qos(.init(prefetchCount: prefetch))) else {
            throw FakeBrokerFailure("expected basic.qos(prefetch \(prefetch)) before consume, got \(qos)")
        }
        try await send(method: .basic(.qosOk(.init())), channel: channel)
        let method = try await expectMethod(channel: channel)
        guard case .basic(.consume(let consume)) = method else {
            throw FakeBrokerFailure("expected basic.consume, got \(method)")
        }
        try await send(method: .basic(.consumeOk(.init(consumerTag: tag))), channel: channel)
        return consume
    }

    /// Has `connection` open a channel and answers it, expecting id `id`.
    func openChannel(_ id: UInt16, on connection: AMQPConnection) async throws -> AMQPChannel {
        let opening = Task { try await connection.openChannel() }
        do {
            try await openChannel(id)
        } catch {
            opening.cancel()
            throw error
        }
        let channel = try await within("openChannel()") { try await opening.value }
        guard channel.id == id else { throw FakeBrokerFailure("the client opened channel \(channel.id), not \(id)") }
        return channel
    }

    /// Stops reading while the socket stays open for writing: the client's next write fails
    /// (EPIPE), but it sees no end of the connection until it reads.
    func stopReading() async throws {
        try await perform { broker in _ = Glibc.shutdown(broker.fd, Int32(SHUT_RD)) }
    }

    /// Shuts the broker's end down: the client sees the connection end.
    func close() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
    }

    // MARK: Blocking I/O, on `queue`

    private struct ClientClosed: Error, CustomStringConvertible {
        var what: String
        var description: String { "the client closed the connection while the broker waited for \(what)" }
    }

    /// Runs `body` on the broker's queue; a failure shuts the socket down (see the type's doc).
    private func perform<T: Sendable>(_ body: @escaping @Sendable (FakeBroker) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    continuation.resume(returning: try body(self))
                } catch {
                    self.close()
                    continuation.resume(throwing: error)
                }
            }
        }
    }

    private func readFrame() throws -> AMQPFrame {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                if let frame = try decoder.decodeFrame(from: &inbound) {
                    inbound.discardReadBytes()
                    return frame
                }
            } catch {
                throw FakeBrokerFailure("the client sent a malformed frame: \(error)")
            }
            try fill(until: deadline, what: "a frame from the client")
        }
    }

    private func readBytes(_ count: Int, what: String) throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while inbound.readableBytes < count { try fill(until: deadline, what: what) }
        return inbound.readBytes(length: count)!
    }

    /// Reads what the socket has, waiting for it until `deadline`.
    private func fill(until deadline: ContinuousClock.Instant? = nil, what: String) throws {
        let deadline = deadline ?? .now + timeout
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let remaining = deadline - .now
            guard remaining > .zero else { throw FakeBrokerFailure("timed out after \(timeout) waiting for \(what)") }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let rc = poll(&pfd, 1, Int32(clamping: remaining.pollMilliseconds + 1))
            if rc < 0 && errno != EINTR { throw FakeBrokerFailure("poll(): \(String(cString: strerror(errno)))") }
            guard rc > 0 else { continue }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                inbound.writeBytes(chunk[0..<n])
                return
            }
            if n == 0 { throw ClientClosed(what: what) }
            if errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR {
                throw FakeBrokerFailure("recv(): \(String(cString: strerror(errno)))")
            }
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        let deadline = ContinuousClock.now + timeout
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n >= 0 {
                offset += n
                continue
            }
            guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR else {
                throw FakeBrokerFailure("send(): \(String(cString: strerror(errno)))")
            }
            let remaining = deadline - .now
            guard remaining > .zero else {
                throw FakeBrokerFailure("timed out after \(timeout) writing to the client (it stopped reading)")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&pfd, 1, Int32(clamping: remaining.pollMilliseconds + 1))
        }
    }
}

/// A test harness failure: what the fake broker or a deadline was waiting for.
struct FakeBrokerFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension AMQPConnectionConfiguration {
    /// The configuration fake-broker tests start from: no heartbeats, a short handshake timeout.
    static var fakeBroker: AMQPConnectionConfiguration {
        var configuration = AMQPConnectionConfiguration()
        configuration.heartbeat = 0
        configuration.connectionTimeout = .seconds(5)
        // The fake broker serves one socket: there is nothing to reconnect to.
        configuration.recovery.isEnabled = false
        return configuration
    }
}

extension AMQPMethod.Connection.Tune {
    /// What the fake broker offers unless a test says otherwise: no heartbeats.
    static let fakeBroker = AMQPMethod.Connection.Tune(channelMax: 2047, frameMax: 131_072, heartbeat: 0)
}
