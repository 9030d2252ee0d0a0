import POSIXSockets
import Synchronization

/// The shell around the state machines: the state every task and the I/O thread share, under
/// one `Mutex`. Tasks lock it briefly to run an intent through the state machine and queue the
/// frames it produces; the I/O thread locks it to feed in frames it read. Nothing waits for the
/// network while holding it: continuations are resumed, and deliveries handed over, only after
/// the lock is released (see ``Effect``).
final class ConnectionCore: Sendable {
    let configuration: AMQPConnectionConfiguration
    let state: Lock<ShellState>
    let wakeup: WakeupPipe
    private let requestIDs = Atomic<UInt64>(1)
    private let incarnations = Atomic<UInt64>(1)
    /// Set with `socketCloseRequested`, readable without the lock: the I/O thread checks it every
    /// turn, also while a write is stuck behind a broker that stopped reading.
    let closeRequested = Atomic<Bool>(false)
    /// Decides whether a failure is recovered and hears about events; weak, since it owns the core.
    weak let supervisor: ConnectionSupervisor?

    init(
        configuration: AMQPConnectionConfiguration, clientProperties: FieldTable,
        supervisor: ConnectionSupervisor? = nil
    ) throws(AMQPError) {
        self.configuration = configuration
        self.supervisor = supervisor
        self.wakeup = try WakeupPipe.forAMQP()
        let handshake = ConnectionStateMachine.Handshake(
            username: configuration.username, password: configuration.password,
            mechanisms: configuration.authMechanisms, virtualHost: configuration.virtualHost,
            clientProperties: clientProperties,
            requested: TuneParameters(
                channelMax: configuration.channelMax, frameMax: configuration.frameMax,
                heartbeat: configuration.heartbeat),
            maxMessageSize: configuration.maxMessageSize)
        state = Lock(ShellState(machine: ConnectionStateMachine(handshake: handshake, now: .now)))
    }

    func nextRequestID() -> RequestID { requestIDs.add(1, ordering: .relaxed).oldValue }
    func nextIncarnation() -> UInt64 { incarnations.add(1, ordering: .relaxed).oldValue }

    /// Runs `body` under the lock, then the effects it queued, then wakes the I/O thread if frames
    /// were queued for it.
    @discardableResult
    func locked<R>(_ body: (inout ShellState, inout [Effect]) throws(AMQPError) -> R) throws(AMQPError) -> R {
        var effects: [Effect] = []
        let result: Result<R, AMQPError>
        let wake: Bool
        let deliveries: [AMQPDelivery]
        (result, wake, deliveries) = state.withLock { s in
            let r: Result<R, AMQPError>
            do throws(AMQPError) { r = .success(try body(&s, &effects)) } catch { r = .failure(error) }
            s.applyActions(core: self, effects: &effects)
            return (r, s.takeWakeup(), s.takeDeliveries())
        }
        if wake { wakeup.signal() }
        Effect.run(effects, deliveries: deliveries, core: self)
        return try result.get()
    }

    /// ``locked(_:)`` for bodies that cannot fail.
    @discardableResult
    func update<R>(_ body: (inout ShellState, inout [Effect]) -> R) -> R {
        var effects: [Effect] = []
        let (result, wake, deliveries) = state.withLock { s in
            let r = body(&s, &effects)
            s.applyActions(core: self, effects: &effects)
            return (r, s.takeWakeup(), s.takeDeliveries())
        }
        if wake { wakeup.signal() }
        Effect.run(effects, deliveries: deliveries, core: self)
        return result
    }

    // MARK: Requests

    /// Sends a synchronous request on a channel and waits for its reply. Cancelling the task stops
    /// the wait (the reply is discarded when it arrives).
    func request(
        _ handle: ChannelHandle, _ method: AMQPMethod,
        prepare: ((inout ShellState, RequestID) -> Void)? = nil
    ) async throws -> ChannelReply {
        let channel = handle.id
        try validate(method)
        let id = nextRequestID()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ChannelReply, any Error>) in
                do {
                    try locked { (s, effects) throws(AMQPError) in
                        try s.checkChannel(handle)
                        s.replyWaiters[id] = continuation
                        if Task.isCancelled {
                            s.replyWaiters[id] = nil
                            effects.append(.resumeReply(continuation, .failure(AMQPError.cancelledWait)))
                            return
                        }
                        prepare?(&s, id)
                        try s.machine.withChannel(channel, into: &s.actions) { (ch, actions) throws(AMQPError) in
                            ch.send(request: id, method, into: &actions)
                        }
                    }
                } catch {
                    state.withLock { $0.replyWaiters[id] = nil }
                    continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.replyWaiters.removeValue(forKey: id) }
            waiter?.resume(throwing: AMQPError.cancelledWait)
        }
    }

    /// Encodes a method once into scratch space, so a value that cannot be sent (a name over 255
    /// bytes) fails the caller instead of the connection.
    func validate(_ method: AMQPMethod) throws(AMQPError) {
        var scratch = WireBuffer(capacity: 256)
        do { try method.encode(into: &scratch) } catch { throw .invalidArgument(error) }
        let frameMax = state.withLock { $0.tune?.frameMax } ?? configuration.frameMax
        let size = scratch.readableBytes + AMQPFrame.overhead
        guard frameMax == 0 || size <= Int(frameMax) else {
            throw AMQPError(
                .invalidArgument, "\(method.id) would need a \(size)-byte frame; frame_max is \(frameMax)")
        }
    }

    /// Sends a method with no reply on a channel.
    func send(_ handle: ChannelHandle, _ method: AMQPMethod) throws(AMQPError) {
        try locked { (s, _) throws(AMQPError) in
            try s.checkChannel(handle)
            try s.machine.withChannel(handle.id, into: &s.actions) { (ch, actions) throws(AMQPError) in
                try ch.send(method, into: &actions)
            }
        }
    }

    /// Wakes the I/O thread to resume reads paused by a full consumer buffer (it re-checks the buffers).
    func resumeReading() {
        wakeup.signal()
    }

    /// Waits until `condition` (checked under the lock) no longer asks to wait. Woken whenever
    /// something that may change it happens: unblocked, flow, a confirm, a drained write buffer.
    func waitForPermission(_ check: @escaping @Sendable (inout ShellState) -> PublishPermission) async throws {
        let id = nextRequestID()
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let outcome = state.withLock { s -> PublishPermission in
                    let permission = check(&s)
                    if case .wait = permission {
                        if Task.isCancelled { return .denied(AMQPError.cancelledWait) }
                        s.permissionWaiters[id] = continuation
                    }
                    return permission
                }
                switch outcome {
                case .granted: continuation.resume()
                case .denied(let error): continuation.resume(throwing: error)
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { $0.permissionWaiters.removeValue(forKey: id) }
            waiter?.resume(throwing: AMQPError.cancelledWait)
        }
    }
}

enum PublishPermission: Sendable {
    case granted
    case wait
    case denied(AMQPError)
}

extension AMQPError {
    static let cancelledWait = AMQPError(.cancelled, "the task was cancelled while waiting")
}

extension ConnectionCore {
    /// Runs the I/O thread (connecting, or over `socket`) and waits for the handshake.
    func start(socket: TCPSocket?) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                // Cancelled already (onCancel ran first and closed the core): fail at once.
                let closed = state.withLock { s -> AMQPError? in
                    if let error = s.closedError { return error }
                    s.connectWaiter = continuation
                    return nil
                }
                if let closed {
                    continuation.resume(throwing: closed)
                    return
                }
                IOLoop.start(core: self, socket: socket)
            }
        } onCancel: {
            abort(AMQPError(.cancelled, "connecting was cancelled"))
        }
    }

    /// Opens a channel for `record` on this connection.
    func openChannel(record: ChannelRecord) async throws -> ChannelHandle {
        let request = nextRequestID()
        let tagOffset = record.tagOffset
        let incarnation = nextIncarnation()
        var channelID: UInt16 = 0
        _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ChannelReply, any Error>) in
            update { s, effects in
                if let closed = s.closedError {
                    effects.append(.resumeReply(continuation, .failure(closed)))
                    return
                }
                s.replyWaiters[request] = continuation
                if let id = s.machine.openChannel(request: request, into: &s.actions) {
                    s.channels[id] = ChannelShell(incarnation: incarnation, record: record, tagOffset: tagOffset)
                    s.openingChannels[request] = id
                    channelID = id
                }
            }
        }
        return ChannelHandle(core: self, id: channelID, incarnation: incarnation, record: record, tagOffset: tagOffset)
    }

    /// Closes a channel and waits for close-ok; a channel already gone is fine.
    func closeChannel(_ handle: ChannelHandle) async throws {
        let request = nextRequestID()
        _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ChannelReply, any Error>) in
            update { s, effects in
                guard s.channels[handle.id]?.incarnation == handle.incarnation, s.machine.channel(handle.id) != nil
                else {
                    effects.append(.resumeReply(continuation, .success(.method(.channel(.closeOk(.init()))))))
                    return
                }
                s.replyWaiters[request] = continuation
                s.channels[handle.id]?.closing = true
                try? s.machine.withChannel(handle.id, into: &s.actions) { (ch, actions) throws(AMQPError) in
                    ch.close(request: request, into: &actions)
                }
            }
        }
    }

    /// Whether a failure of this connection will be recovered (see ``ConnectionSupervisor``).
    func willRecover(_ error: AMQPError?) -> Bool {
        supervisor?.willRecover(self, error) ?? false
    }
}
