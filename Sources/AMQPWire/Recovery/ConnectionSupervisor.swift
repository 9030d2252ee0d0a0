import Synchronization

/// Owns a connection across sockets: the current ``ConnectionCore``, whether the connection is
/// open, recovering or closed, the channels and topology to restore, and the recovery itself.
///
/// Cores report to it (weakly referenced): whether a failure will be recovered (asked under the
/// core's lock, so channels are suspended rather than ended), and when they end. Lock order is
/// core, then supervisor, then channel record; the supervisor never takes a core's lock while
/// holding its own.
final class ConnectionSupervisor: Sendable {
    enum Phase: Sendable {
        case connecting
        case open
        case recovering
        case closed(AMQPError?)
    }

    private struct State: Sendable {
        var core: ConnectionCore?
        var phase: Phase = .connecting
        var records: [Int: ChannelRecord] = [:]
        var nextRecord = 0
        var topology = Topology()
        var waiters: [Int: CheckedContinuation<Void, any Error>] = [:]
        var nextWaiter = 0
        var recoveryTask: Task<Void, Never>?
        /// The secret to log in with: the configured password, or the last one sent with update-secret.
        var password: String
        /// Recovery tries the endpoints in turn, starting after the one that failed.
        var endpointOffset = 0
        /// The final close was announced (consumers ended, `.closed` published): only once.
        var ended = false
        /// Failures that started a recovery, counted the moment each is seen.
        var failures = 0
    }

    let configuration: AMQPConnectionConfiguration
    let clientProperties: FieldTable
    let events = Broadcast<AMQPConnectionEvent>(capacity: 64)
    private let state: Mutex<State>

    init(configuration: AMQPConnectionConfiguration) {
        self.configuration = configuration
        self.clientProperties = ClientProperties.make(for: configuration)
        self.state = Mutex(State(password: configuration.password))
    }

    // MARK: Cores

    /// Connects a new core (the first, or a recovery attempt) and makes it the current one.
    func connectCore(socket: TCPSocket? = nil) async throws -> ConnectionCore {
        var configuration = self.configuration
        state.withLock { s in
            configuration.password = s.password
            if s.endpointOffset > 0, !configuration.endpoints.isEmpty {
                let offset = s.endpointOffset % configuration.endpoints.count
                configuration.endpoints = Array(configuration.endpoints[offset...] + configuration.endpoints[..<offset])
            }
        }
        let core = try ConnectionCore(
            configuration: configuration, clientProperties: clientProperties, supervisor: self)
        try state.withLock { (s) throws(AMQPError) in
            if case .closed(let reason) = s.phase {
                throw reason ?? AMQPError(.connectionClosed, "the connection was closed by the application")
            }
            s.core = core
        }
        try await core.start(socket: socket)
        return core
    }

    /// The current core (the last one connected).
    var core: ConnectionCore? { state.withLock { $0.core } }

    var phase: Phase { state.withLock { $0.phase } }

    /// The first core finished its handshake. Called by the core under its lock, as soon as
    /// connection.open-ok is in and before it handles anything after it: a failure right after the
    /// handshake (the broker closing at once) is then recovered, like any failure of an open
    /// connection, instead of ending a connection that `connect` is about to return.
    func opened(_ core: ConnectionCore) {
        state.withLock { s in
            guard s.core === core, case .connecting = s.phase else { return }
            s.phase = .open
        }
    }

    /// Whether `core`'s failure will be recovered. Asked (under the core's lock) for each channel
    /// the failure takes down, and when the core ends: the first ask decides, and suspends every
    /// channel record so that calls wait for the recovery instead of failing.
    func willRecover(_ core: ConnectionCore, _ error: AMQPError?) -> Bool {
        state.withLock { s in
            guard core === s.core else { return false }
            switch s.phase {
            case .recovering:
                return true
            case .open:
                guard configuration.recovery.isEnabled, let error, Self.isRecoverable(error) else { return false }
                s.phase = .recovering
                s.failures += 1
                for record in s.records.values { record.suspend() }
                return true
            case .connecting, .closed:
                return false
            }
        }
    }

    /// `core` is closing: settle the phase now, under the core's lock and before the failure
    /// resumes anything waiting on the core (the rest happens in `coreEnded`, after). A call that
    /// fails with the connection's error then already finds the connection recovering, or closed
    /// with that error as its `closeReason`.
    func coreClosing(_ core: ConnectionCore, _ error: AMQPError?) {
        guard !willRecover(core, error) else { return }
        state.withLock { s in
            guard s.core === core else { return }
            if case .closed = s.phase {} else { s.phase = .closed(error) }
        }
    }

    /// How many failures started a recovery so far.
    var failureCount: Int { state.withLock { $0.failures } }

    /// A core ended: start recovering, or close for good.
    func coreEnded(_ core: ConnectionCore, _ error: AMQPError?) {
        let recovering = willRecover(core, error)
        enum Next {
            case none
            case recover(AMQPError)
            case close(AMQPError?, [ChannelRecord])
        }
        let next = state.withLock { s -> Next in
            guard core === s.core else { return .none }
            if recovering {
                guard s.recoveryTask == nil, let error else { return .none }
                s.endpointOffset += 1
                let task = Task.detached { [weak self] () async -> Void in await self?.recover(from: error) }
                s.recoveryTask = task
                return .recover(error)
            }
            if case .closed = s.phase {} else { s.phase = .closed(error) }
            let reason: AMQPError? = if case .closed(let r) = s.phase { r } else { error }
            let records = Array(s.records.values)
            s.records = [:]
            return .close(reason, records)
        }
        switch next {
        case .none:
            break
        case .recover(let error):
            events.publish(.recovering(error))
        case .close(let reason, let records):
            finishClosed(reason, records)
        }
    }

    private func finishClosed(_ reason: AMQPError?, _ records: [ChannelRecord]) {
        for record in records {
            record.markClosed(reason)
            record.finish(reason)
        }
        let (waiters, first) = state.withLock { s in
            defer {
                s.waiters = [:]
                s.ended = true
            }
            return (Array(s.waiters.values), !s.ended)
        }
        guard first else { return }
        let failure = reason ?? AMQPError(.connectionClosed, "the connection was closed by the application")
        for waiter in waiters { waiter.resume(throwing: failure) }
        events.publish(.closed(reason))
        events.finish()
    }

    /// Events from a core (blocked, unblocked) reach the application only from the current one.
    func coreEvent(_ core: ConnectionCore, _ event: AMQPConnectionEvent) {
        guard state.withLock({ $0.core === core }) else { return }
        events.publish(event)
    }

    static func isRecoverable(_ error: AMQPError) -> Bool {
        switch error.code {
        case .ioError, .heartbeatTimeout, .connectionClosedByBroker, .protocolError, .connectFailed, .connectTimeout:
            true
        default:
            false
        }
    }

    // MARK: Waiting for the connection

    /// Returns the core once the connection is open; waits while it recovers; throws once closed.
    func openCore() async throws -> ConnectionCore {
        while true {
            enum Now {
                case ready(ConnectionCore)
                case wait
                case closed(AMQPError)
            }
            let now = state.withLock { s -> Now in
                switch s.phase {
                case .open: return s.core.map(Now.ready) ?? .wait
                case .recovering, .connecting: return .wait
                case .closed(let reason):
                    return .closed(
                        reason ?? AMQPError(.connectionClosed, "the connection was closed by the application"))
                }
            }
            switch now {
            case .ready(let core): return core
            case .closed(let error): throw error
            case .wait: try await waitForRecovery()
            }
        }
    }

    /// Waits until the connection is open again (or closed for good, which throws).
    func waitForRecovery() async throws {
        let id = state.withLock { s in
            defer { s.nextWaiter += 1 }
            return s.nextWaiter
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let now = state.withLock { s -> Result<Void, AMQPError>? in
                    switch s.phase {
                    case .open: return .success(())
                    case .closed(let reason):
                        return .failure(
                            reason ?? AMQPError(.connectionClosed, "the connection was closed by the application"))
                    case .recovering, .connecting:
                        if Task.isCancelled { return .failure(AMQPError.cancelledWait) }
                        s.waiters[id] = continuation
                        return nil
                    }
                }
                if let now { continuation.resume(with: now.mapError { $0 as any Error }) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(throwing: AMQPError.cancelledWait)
        }
    }

    // MARK: Channels and topology

    func newRecord() -> ChannelRecord {
        state.withLock { s in
            let record = ChannelRecord(number: s.nextRecord)
            s.nextRecord += 1
            s.records[record.number] = record
            return record
        }
    }

    /// The channel is closed for good: recovery leaves it alone.
    func forget(_ record: ChannelRecord) {
        state.withLock { _ = $0.records.removeValue(forKey: record.number) }
    }

    func recordTopology(_ body: (inout Topology) -> Void) {
        state.withLock { body(&$0.topology) }
    }

    var topology: Topology { state.withLock { $0.topology } }

    /// The application cancelled a consumer: an auto-delete queue goes with its last one.
    func consumerCancelled(on queue: String) {
        state.withLock { s in
            let stillConsumed = s.records.values.contains { record in
                record.consumers.contains { $0.recorded.queue == queue }
            }
            if !stillConsumed { s.topology.lastConsumerCancelled(on: queue) }
        }
    }

    func secretUpdated(_ secret: String) { state.withLock { $0.password = secret } }

    // MARK: Closing

    /// The application closes: no recovery from here on. Returns the core to close gracefully,
    /// or nil when there is none to close (recovery was under way: it is stopped, and the
    /// connection ends here).
    func close() -> ConnectionCore? {
        let (core, task, recovering, records) = state.withLock {
            s -> (ConnectionCore?, Task<Void, Never>?, Bool, [ChannelRecord]) in
            if case .closed = s.phase { return (s.core, nil, false, []) }
            let recovering = if case .recovering = s.phase { true } else { false }
            s.phase = .closed(nil)
            let task = s.recoveryTask
            s.recoveryTask = nil
            let records = recovering ? Array(s.records.values) : []
            if recovering { s.records = [:] }
            return (s.core, task, recovering, records)
        }
        task?.cancel()
        guard recovering else { return core }
        core?.abort(AMQPError(.connectionClosed, "the connection was closed by the application during recovery"))
        finishClosed(nil, records)
        return nil
    }

    // MARK: Recovery

    private func recover(from cause: AMQPError) async {
        let started = ContinuousClock.now
        var attempt = 0
        var lastError = cause
        while true {
            attempt += 1
            if let maximum = configuration.recovery.maximumAttempts, attempt > maximum {
                failRecovery(
                    AMQPError(
                        cause.code,
                        "recovery gave up after \(maximum) attempts; the last failure: \(lastError.message)",
                        underlying: lastError))
                return
            }
            let delay = RecoveryConfiguration.delay(
                attempt: attempt, initial: configuration.recovery.initialDelay,
                maximum: configuration.recovery.maximumDelay, random: Double.random(in: 0..<1))
            do {
                try await Task.sleep(for: delay)
            } catch {
                return  // closed by the application
            }
            if case .closed = phase { return }
            do {
                let core = try await connectCore()
                try await restore(on: core)
                let waiters = state.withLock { s -> [CheckedContinuation<Void, any Error>] in
                    guard s.core === core, case .recovering = s.phase else { return [] }
                    s.phase = .open
                    s.recoveryTask = nil
                    defer { s.waiters = [:] }
                    return Array(s.waiters.values)
                }
                for waiter in waiters { waiter.resume() }
                events.publish(.recovered(attempts: attempt, duration: .now - started))
                return
            } catch {
                let failure = error as? AMQPError ?? AMQPError(.ioError, "\(error)")
                lastError = failure
                state.withLock { $0.endpointOffset += 1 }
                if case .closed = phase { return }
                if !Self.isRecoverable(failure) && failure.code != .channelClosedByBroker {
                    failRecovery(failure)
                    return
                }
                // A failed attempt's core may still be up (a restore step failed): drop it.
                self.core?.abort(AMQPError(.connectionClosed, "recovery attempt \(attempt) failed: \(failure.message)"))
            }
        }
    }

    private func failRecovery(_ error: AMQPError) {
        let records = state.withLock { s -> [ChannelRecord] in
            s.phase = .closed(error)
            s.recoveryTask = nil
            defer { s.records = [:] }
            return Array(s.records.values)
        }
        events.publish(.recoveryFailed(error))
        finishClosed(error, records)
        core?.abort(error)
    }

    /// Restores on `core`: channels with their settings, then the topology, then consumers.
    /// A failure of one entity is reported and the rest goes on; a connection failure throws.
    private func restore(on core: ConnectionCore) async throws {
        let filter = configuration.recovery.topologyFilter
        let records = state.withLock { s in s.records.values.sorted { $0.number < $1.number } }.filter { !$0.isClosed }
        var handles: [(ChannelRecord, ChannelHandle)] = []
        for record in records {
            let handle = try await core.openChannel(record: record)
            let settings = record.settings
            for global in [false, true] {
                guard let count = settings.prefetch[global] else { continue }
                _ = try await core.request(handle, .basic(.qos(.init(prefetchCount: count, global: global)))) { s, _ in
                    s.channels[handle.id]?.prefetchCount = count
                    s.channels[handle.id]?.prefetchGlobal = global
                }
            }
            if let window = settings.confirmWindow {
                _ = try await core.request(handle, .confirm(.select(.init()))) { s, _ in
                    s.channels[handle.id]?.confirms = ConfirmTracker()
                    s.channels[handle.id]?.confirmWindow = window
                }
            }
            if settings.transactional { _ = try await core.request(handle, .tx(.select(.init()))) }
            handles.append((record, handle))
        }

        var helper = try await TopologyChannel(core: core)
        func allowed(_ entity: RecordedEntity) -> Bool {
            guard let filter, !filter(entity) else { return true }
            forgetEntity(entity)
            return false
        }
        let topology = self.topology
        for exchange in topology.exchanges where allowed(.exchange(exchange)) {
            try await helper.attempt(.exchange(exchange), report: reportFailure) { handle in
                _ = try await core.request(
                    handle,
                    .exchange(
                        .declare(
                            .init(
                                exchange: exchange.name, type: exchange.type, durable: exchange.durable,
                                autoDelete: exchange.autoDelete, internal: exchange.internal,
                                arguments: exchange.arguments))))
            }
        }
        for queue in topology.queues where allowed(.queue(queue)) {
            try await helper.attempt(.queue(queue), report: reportFailure) { handle in
                let reply = try await core.request(
                    handle,
                    .queue(
                        .declare(
                            .init(
                                queue: queue.isServerNamed ? "" : queue.name, durable: queue.durable,
                                exclusive: queue.exclusive, autoDelete: queue.autoDelete, arguments: queue.arguments))))
                if case .method(.queue(.declareOk(let ok))) = reply, ok.queue != queue.name {
                    self.renameQueue(queue.name, to: ok.queue, records: records)
                }
            }
        }
        for binding in self.topology.bindings where allowed(.binding(binding)) {
            try await helper.attempt(.binding(binding), report: reportFailure) { handle in
                let method: AMQPMethod =
                    switch binding.kind {
                    case .queue:
                        .queue(
                            .bind(
                                .init(
                                    queue: binding.destination, exchange: binding.source,
                                    routingKey: binding.routingKey,
                                    arguments: binding.arguments)))
                    case .exchange:
                        .exchange(
                            .bind(
                                .init(
                                    destination: binding.destination, source: binding.source,
                                    routingKey: binding.routingKey, arguments: binding.arguments)))
                    }
                _ = try await core.request(handle, method)
            }
        }

        for (record, handle) in handles {
            for consumer in record.consumers {
                guard allowed(.consumer(consumer.recorded)) else {
                    record.removeConsumer(tag: consumer.recorded.tag)
                    consumer.buffer.finish(nil)
                    continue
                }
                let c = consumer.recorded
                // Checked on the helper channel first: consuming a missing queue would close the
                // application's channel, and every other consumer on it.
                let exists = try await helper.attempt(.consumer(c), report: reportFailure) { helperHandle in
                    _ = try await core.request(helperHandle, .queue(.declare(.init(queue: c.queue, passive: true))))
                }
                guard exists else {
                    record.removeConsumer(tag: c.tag)
                    consumer.buffer.finish(
                        AMQPError(
                            .consumerCancelledByBroker,
                            "consumer '\(c.tag)' could not be restored after recovery: queue '\(c.queue)' no longer exists"
                        ))
                    continue
                }
                _ = try await core.request(
                    handle,
                    .basic(
                        .consume(
                            .init(
                                queue: c.queue, consumerTag: c.tag, noAck: c.noAck, exclusive: c.exclusive,
                                arguments: c.arguments)))
                ) { s, request in
                    s.pendingConsumers[request] = .init(channel: handle.id, buffer: consumer.buffer, noAck: c.noAck)
                }
            }
        }
        await helper.close()
        for (record, handle) in handles { record.attach(handle) }
    }

    private func reportFailure(_ entity: RecordedEntity, _ error: AMQPError) {
        events.publish(.topologyRecoveryFailed(entity, error))
    }

    private func forgetEntity(_ entity: RecordedEntity) {
        recordTopology { t in
            switch entity {
            case .exchange(let e): t.deletedExchange(e.name)
            case .queue(let q): t.deletedQueue(q.name)
            case .binding(let b): t.unbound(b)
            case .consumer: break
            }
        }
    }

    private func renameQueue(_ old: String, to new: String, records: [ChannelRecord]) {
        recordTopology { $0.renamedQueue(old, to: new) }
        for record in records { record.renameQueue(old, to: new) }
        events.publish(.queueRenamed(from: old, to: new))
    }
}

/// The channel recovery declares topology on, reopened after any entity the broker refuses (a
/// refusal closes the channel).
private struct TopologyChannel {
    let core: ConnectionCore
    var handle: ChannelHandle

    init(core: ConnectionCore) async throws {
        self.core = core
        self.handle = try await core.openChannel(record: ChannelRecord(number: -1))
    }

    /// Runs `step`; a channel-level refusal is reported and returns false (the channel is
    /// reopened); a connection failure throws.
    @discardableResult
    mutating func attempt(
        _ entity: RecordedEntity, report: (RecordedEntity, AMQPError) -> Void,
        _ step: (ChannelHandle) async throws -> Void
    ) async throws -> Bool {
        do {
            try await step(handle)
            return true
        } catch let error as AMQPError
            where error.code == .channelClosedByBroker || error.code == .channelClosed || error.code == .invalidArgument
        {
            report(entity, error)
            handle = try await core.openChannel(record: ChannelRecord(number: -1))
            return false
        }
    }

    func close() async {
        try? await core.closeChannel(handle)
    }
}
