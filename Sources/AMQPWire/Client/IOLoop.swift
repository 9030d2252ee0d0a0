import Foundation
import POSIXSockets

#if canImport(Glibc)
    import Glibc
#endif

/// The connection's I/O thread: connects, then polls the socket and the wake-up pipe, reads and
/// decodes frames, feeds them to the state machine in batches (one lock per batch), writes what
/// tasks queued, and keeps the heartbeat clock. It owns the socket and the read buffers, so none
/// of those need a lock.
final class IOLoop: @unchecked Sendable {
    // @unchecked: after `start` the loop is touched only by its own thread.
    private let core: ConnectionCore
    private var socket: TCPSocket?
    private var inbound = WireBuffer(capacity: 1 << 18)
    private var decoder: AMQPFrameDecoder
    /// The queue taken from the tasks, and what of it is still to go out.
    private var writing = OutboundQueue(capacity: 1 << 16)
    private var pieces: [OutboundQueue.Piece] = []
    private var nextPiece = 0
    /// Pieces per sendmsg.
    static let piecesPerWrite = 64
    private let readChunk: UnsafeMutableRawBufferPointer
    private var items: [InboundItem] = []
    private var effects: [Effect] = []
    /// A batch's deliveries, swapped with the shell's (``ShellState/deliveries``) so neither
    /// array is reallocated; consecutive ones for a consumer go over under one lock and one wake-up.
    private var deliveries: [AMQPDelivery] = []
    private var pollSet = [pollfd](repeating: pollfd(), count: 2)
    /// Deliveries handed to consumers during the current read.
    private var deliveriesThisRead = 0
    /// Set by a read that drained the socket and brought deliveries: the socket is not read again
    /// before this (`deliveryCoalescing` later), so that a stream brings more per wake-up.
    private var coalesceUntil: ContinuousClock.Instant?
    /// Consumer buffers that filled up; reads pause until they drain.
    private var fullBuffers: [DeliveryBuffer] = []
    private var lastRead = ContinuousClock.now
    private var lastWrite = ContinuousClock.now
    private var nextTick: ContinuousClock.Instant?
    private var handshakeDeadline: ContinuousClock.Instant?
    /// Set when the application closed the connection: past it, close-ok is not awaited any longer.
    private var closeDeadline: ContinuousClock.Instant?
    /// A write buffer that grew past this (for a large message) is replaced once empty.
    static let keptBufferCapacity = 8 << 20

    static let readChunkSize = 1 << 16
    /// Reads per loop turn before writes get their turn, so a flood in does not starve output.
    static let readsPerTurn = 8

    private init(core: ConnectionCore) {
        self.core = core
        self.decoder = AMQPFrameDecoder(maxFrameSize: max(core.configuration.frameMax, 131_072))
        self.readChunk = .allocate(byteCount: Self.readChunkSize, alignment: 16)
        pollSet[1] = pollfd(fd: core.wakeup.readFD, events: Int16(POLLIN), revents: 0)
        items.reserveCapacity(256)
        effects.reserveCapacity(256)
        deliveries.reserveCapacity(256)
    }

    deinit { readChunk.deallocate() }

    /// Starts the I/O thread. With `socket`, it skips connecting and speaks AMQP over that
    /// already-connected descriptor (tests pass one end of a `socketpair()` to a fake broker).
    static func start(core: ConnectionCore, socket: TCPSocket? = nil) {
        let loop = IOLoop(core: core)
        loop.socket = socket
        let thread = Thread { loop.run() }
        thread.name = "amqp-io"
        thread.start()
    }

    private func run() {
        let config = core.configuration
        var failure: AMQPError?
        for endpoint in config.endpoints where socket == nil {
            if core.state.withLock({ $0.closedError != nil }) { return }
            do {
                socket = try TCPSocket.connectForAMQP(
                    host: endpoint.host, port: endpoint.port, deadline: .now + config.connectionTimeout)
                break
            } catch {
                failure = error
            }
        }
        guard socket != nil else {
            let error =
                config.endpoints.count > 1
                ? AMQPError(
                    .connectFailed,
                    "no broker endpoint accepted the connection (tried \(config.endpoints.map(\.description).joined(separator: ", "))); last: \(failure?.message ?? "?")",
                    underlying: failure)
                : failure ?? AMQPError(.connectFailed, "no endpoint to connect to")
            batch { s in s.machine.transportFailed(error, into: &s.actions) }
            return
        }
        do {
            try socket?.setNonBlocking()
        } catch {
            batch { s in s.machine.transportFailed(AMQPError(.ioError, error.message), into: &s.actions) }
            return
        }
        handshakeDeadline = .now + config.connectionTimeout
        batch { s in s.machine.start(into: &s.actions) }
        loop()
        socket?.shutdown()
        socket?.close()
    }

    // MARK: The loop

    private func loop() {
        while true {
            // One lock per turn, and only when the last batch is out: take what tasks queued.
            if !hasPendingWrites {
                pieces.removeAll(keepingCapacity: true)  // drop references first: clearing then copies nothing
                nextPiece = 0
                if writing.capacity > Self.keptBufferCapacity {
                    writing = OutboundQueue(capacity: 1 << 16)  // a huge message passed: give the memory back
                } else {
                    writing.clear()
                }
                let (close, waiters) = core.state.withLock { s -> (Bool, [CheckedContinuation<Void, any Error>]) in
                    closeDeadline = s.closeDeadline
                    if s.outbound.readableBytes > 0 {
                        // `wakeupPending` stays set while the loop is busy: tasks queueing more need
                        // not signal, since the loop comes back for it without sleeping.
                        swap(&s.outbound, &writing)
                    } else {
                        // Nothing queued: the loop may sleep, so the next task to queue bytes wakes it.
                        s.wakeupPending = false
                    }
                    var waiters: [CheckedContinuation<Void, any Error>] = []
                    if !s.permissionWaiters.isEmpty && !writing.isEmpty {
                        waiters = Array(s.permissionWaiters.values)
                        s.permissionWaiters.removeAll()
                    }
                    return (s.socketCloseRequested, waiters)
                }
                for waiter in waiters { waiter.resume() }
                pieces = writing.pieces()
                if close {
                    finishWrites()
                    return
                }
            } else if core.closeRequested.load(ordering: .acquiring) {
                // A write is stuck (the broker stopped reading): try briefly, then drop the socket.
                finishWrites()
                return
            }
            let hadWrites = hasPendingWrites
            if hadWrites && !flush() { continue }
            // A batch just finished (taken now or on an earlier turn): `wakeupPending` is still set,
            // so tasks queued more without signalling. Only look (timeout 0), then come back for it.
            let batchFinished = hadWrites && !hasPendingWrites

            // Wait for bytes, space to write, a wake-up or the next deadline.
            if !fullBuffers.isEmpty { fullBuffers.removeAll { $0.allowsReading } }
            let wantRead = fullBuffers.isEmpty
            let wantWrite = hasPendingWrites
            pollSet[0].fd = socket!.fd
            pollSet[0].events = Int16((wantRead ? POLLIN : 0) | (wantWrite ? POLLOUT : 0))
            pollSet[0].revents = 0
            pollSet[1].revents = 0
            let timeout = batchFinished ? 0 : timeoutMilliseconds()
            if let until = coalesceUntil {
                // The socket stays unread until `until`, unless writes wait for room in it. A task
                // that queues bytes meanwhile wakes the loop, which writes them at once and waits
                // out the rest.
                let remaining = until - .now
                if remaining > .zero && wantRead && !wantWrite {
                    // Tasks may have queued more without signalling (see above): take it first.
                    if batchFinished { continue }
                    if timeout != 0 && core.wakeup.wait(upTo: remaining) != .unsupported { continue }
                }
                coalesceUntil = nil
            }
            let rc = poll(&pollSet, 2, timeout)
            if rc < 0 && errno != EINTR {
                transportFailed(AMQPError(.ioError, "poll(): \(errnoText())"))
                continue
            }
            if pollSet[1].revents != 0 { core.wakeup.drain() }
            let socketEvents = Int32(pollSet[0].revents)
            if socketEvents & Int32(POLLIN | POLLHUP | POLLERR) != 0 && wantRead {
                read()
            } else if socketEvents & Int32(POLLHUP | POLLERR | POLLNVAL) != 0 {
                // Reads are paused, but the peer is gone: poll would report this again at once.
                failAfterReadingWhatIsLeft(AMQPError(.ioError, "the broker closed the TCP connection"))
            }
            tick()
        }
    }

    private func timeoutMilliseconds() -> Int32 {
        var next = nextTick
        for deadline in [handshakeDeadline, closeDeadline] {
            if let deadline, next.map({ deadline < $0 }) ?? true { next = deadline }
        }
        guard let next else { return -1 }
        let remaining = next - .now
        return remaining <= .zero ? 0 : Int32(clamping: remaining.pollMilliseconds + 1)
    }

    // MARK: Reading

    /// Reads what the socket has (up to `readsPerTurn` chunks) and hands the frames to the state
    /// machine; true when every chunk came back full, so more may be waiting.
    @discardableResult
    private func read() -> Bool {
        guard let socket else { return false }
        var closed: AMQPError?
        var mayHaveMore = false
        deliveriesThisRead = 0
        for turn in 0..<Self.readsPerTurn {
            switch socket.receive(into: readChunk) {
            case .bytes(let n):
                inbound.writeBytes(UnsafeRawBufferPointer(rebasing: readChunk[0..<n]))
                if n < readChunk.count { break }
                mayHaveMore = turn == Self.readsPerTurn - 1
                continue
            case .wouldBlock:
                break
            case .closed:
                closed = AMQPError(.ioError, "the broker closed the TCP connection")
            case .failed(let code):
                closed = AMQPError(.ioError, "reading from the socket failed: \(errnoText(code))")
            }
            break
        }
        lastRead = .now
        var decodeError: AMQPCodecError?
        do {
            while let item = try decoder.decodeItem(from: &inbound) { items.append(item) }
        } catch {
            decodeError = error
        }
        let now = lastRead
        let tune = batch { s -> TuneParameters? in
            s.machine.bytesRead(now: now)
            for item in items { s.machine.receive(item, into: &s.actions) }
            if let decodeError { s.machine.decodingFailed(decodeError, into: &s.actions) }
            if let closed { s.machine.transportFailed(closed, into: &s.actions) }
            // Not `s.tune`: the shell sets that when it applies the actions, after this body.
            return s.machine.isOpen ? s.machine.tuneParameters : nil
        }
        // Body frames are views into `inbound`: drop them before compacting it, or it is copied.
        items.removeAll(keepingCapacity: true)
        inbound.discardReadBytes()
        if let tune, handshakeDeadline != nil {
            decoder.maxFrameSize = tune.frameMax
            handshakeDeadline = nil
            nextTick = nil  // heartbeats start now: tick at once to learn their schedule
        }
        // A delivery, and the socket is drained: in a stream, more are on their way. (A lone
        // delivery, such as an RPC reply, loses nothing: the wait only holds back what arrives
        // within `deliveryCoalescing` of it.)
        let coalescing = core.configuration.deliveryCoalescing
        coalesceUntil =
            deliveriesThisRead > 0 && !mayHaveMore && closed == nil && coalescing > .zero ? lastRead + coalescing : nil
        return mayHaveMore && closed == nil
    }

    /// Fails the transport, but first reads what the broker sent before it closed the socket.
    /// A broker that closes a connection (stop_app, a policy, a forced close) sends
    /// connection.close with its reason and then drops the socket; a write that meets the
    /// dropped socket first must not hide that reason behind EPIPE. Bounded by what the kernel
    /// holds for the socket (at most 64 turns of `readsPerTurn` chunks).
    private func failAfterReadingWhatIsLeft(_ error: AMQPError) {
        for _ in 0..<64 {
            guard read() else { break }
        }
        transportFailed(error)
    }

    // MARK: Writing

    private var hasPendingWrites: Bool { nextPiece < pieces.count }

    /// Writes until done or the socket is full; false when the connection failed.
    private func flush() -> Bool {
        guard let socket else { return false }
        while nextPiece < pieces.count {
            let end = min(pieces.count, nextPiece + Self.piecesPerWrite)
            let result: TCPSocket.IOResult
            if end - nextPiece == 1 {
                let piece = pieces[nextPiece]
                result = piece.bytes.withUnsafeBytes { raw in
                    socket.send(UnsafeRawBufferPointer(rebasing: raw[piece.range]))
                }
            } else {
                result = socket.send(pieces[nextPiece..<end])
            }
            switch result {
            case .bytes(var n):
                lastWrite = .now
                while n > 0 {
                    let count = pieces[nextPiece].range.count
                    if n >= count {
                        n -= count
                        nextPiece += 1
                    } else {
                        pieces[nextPiece].range =
                            pieces[nextPiece].range.lowerBound + n..<pieces[nextPiece].range.upperBound
                        n = 0
                    }
                }
            case .wouldBlock:
                return true
            case .closed, .failed:
                let code: Int32 = if case .failed(let c) = result { c } else { EPIPE }
                failAfterReadingWhatIsLeft(
                    AMQPError(.ioError, "writing to the socket failed: \(errnoText(code))"))
                return false
            }
        }
        return true
    }

    /// Writes what is left before closing, for at most two seconds (a close-ok or a reason).
    private func finishWrites() {
        let deadline = ContinuousClock.now + .seconds(2)
        while hasPendingWrites, ContinuousClock.now < deadline, let socket {
            _ = flush()
            guard hasPendingWrites else { break }
            var fd = pollfd(fd: socket.fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&fd, 1, 100)
        }
    }

    // MARK: Clock and failures

    private func tick() {
        let now = ContinuousClock.now
        if let closeDeadline, now >= closeDeadline {
            self.closeDeadline = nil
            transportFailed(AMQPError(.connectionClosed, "the broker did not answer connection.close in time"))
            return
        }
        if let handshakeDeadline, now >= handshakeDeadline {
            self.handshakeDeadline = nil
            let seconds = core.configuration.connectionTimeout
            transportFailed(AMQPError(.connectTimeout, "the AMQP handshake did not finish within \(seconds)"))
            return
        }
        if let nextTick, now < nextTick { return }
        let (paused, read, written) = (!fullBuffers.isEmpty, lastRead, lastWrite)
        nextTick = batch { s in
            // While reads are paused for a slow consumer, silence is ours, not the broker's.
            s.machine.bytesRead(now: paused ? now : read)
            s.machine.bytesWritten(now: written)
            s.machine.tick(now: now, into: &s.actions)
            // Without heartbeats there is nothing to tick for; look again in a minute regardless.
            return s.machine.heartbeat.nextDeadline() ?? now + .seconds(60)
        }
    }

    private func transportFailed(_ error: AMQPError) {
        batch { s in s.machine.transportFailed(error, into: &s.actions) }
    }

    /// Runs `body` under the lock, applies the actions, then runs the effects outside it.
    @discardableResult
    private func batch<R>(_ body: (inout ShellState) -> R) -> R {
        let result = core.state.withLock { s in
            let r = body(&s)
            s.applyActions(core: core, effects: &effects)
            // Both keep their capacity: the empty one goes back for the next batch.
            swap(&s.deliveries, &deliveries)
            return r
        }
        deliveriesThisRead += deliveries.count
        Effect.run(effects, deliveries: deliveries, core: core) { buffer in
            if !fullBuffers.contains(where: { $0 === buffer }) { fullBuffers.append(buffer) }
        }
        deliveries.removeAll(keepingCapacity: true)
        effects.removeAll(keepingCapacity: true)
        return result
    }
}
