/// A channel: where queues and exchanges are declared, messages published and consumed.
///
/// A channel is cheap; use one per concern (one for publishing with confirms, one per consumer
/// group). When the broker closes a channel (404 for a missing queue, 406 for a bad ack, ...),
/// the calls waiting on it fail with an ``AMQPError`` carrying the broker's reply, its
/// consumers end with that error, and the connection stays up: open another channel.
///
/// A channel survives connection recovery: it is reopened on the new connection (its ``id`` may
/// change) with its prefetch, confirm mode and consumers; calls made meanwhile wait for it.
public final class AMQPChannel: Sendable {
    /// The connection this channel lives on.
    public let connection: AMQPConnection
    let record: ChannelRecord

    init(connection: AMQPConnection, record: ChannelRecord) {
        self.connection = connection
        self.record = record
    }

    /// The channel number on the connection (it may change when the connection recovers; 0
    /// while it is recovering or after it closed).
    public var id: UInt16 { record.openHandle?.id ?? 0 }
    var supervisor: ConnectionSupervisor { connection.supervisor }

    /// The channel on the current connection: waits while the connection recovers, throws once
    /// the channel is closed for good.
    func currentHandle() async throws -> ChannelHandle {
        while true {
            switch record.current {
            case .open(let handle): return handle
            case .closed(let error): throw error
            case .suspended: try await supervisor.waitForRecovery()
            }
        }
    }

    /// Whether the channel is open (not closing, not closed, not waiting for recovery).
    public var isOpen: Bool {
        guard let handle = record.openHandle else { return false }
        return handle.core.state.withLock { s in
            guard let channel = s.channels[handle.id], channel.incarnation == handle.incarnation else { return false }
            return !channel.closing && s.machine.isOpen
        }
    }

    /// Sends a synchronous method and returns the broker's reply method.
    @discardableResult
    func call(_ method: AMQPMethod, prepare: ((inout ShellState, RequestID) -> Void)? = nil) async throws
        -> AMQPMethod
    {
        let handle = try await currentHandle()
        let reply = try await handle.core.request(handle, method) { s, request in
            prepare?(&s, request)
        }
        guard case .method(let answer) = reply else {
            throw AMQPError(.protocolError, "\(method.id) was answered with content", channel: handle.id)
        }
        return answer
    }

    /// Closes the channel and waits for the broker's close-ok. Consumers on it end (without an
    /// error), and publishes still unconfirmed fail with `confirmOutcomeUnknown`.
    /// Closing a closed channel does nothing.
    public func close() async throws {
        switch record.current {
        case .closed:
            return
        case .suspended:
            // Nothing to tell a broker we are not connected to: just do not recover it.
            record.markClosed(nil)
            supervisor.forget(record)
            record.finish(nil)
        case .open(let handle):
            try await handle.core.closeChannel(handle)
        }
    }

    /// Limits how many unacknowledged messages the broker sends: `prefetchCount` messages (0 is
    /// no limit) per consumer started after this call, or for the whole channel with `global`
    /// (RabbitMQ's per_consumer_qos semantics). Restored after recovery.
    public func setPrefetch(count prefetchCount: UInt16, size prefetchSize: UInt32 = 0, global: Bool = false)
        async throws
    {
        let handle = try await currentHandle()
        _ = try await handle.core.request(
            handle, .basic(.qos(.init(prefetchSize: prefetchSize, prefetchCount: prefetchCount, global: global)))
        ) { s, _ in
            s.channels[handle.id]?.prefetchCount = prefetchCount
            s.channels[handle.id]?.prefetchGlobal = global
        }
        record.updateSettings { $0.prefetch[global] = prefetchCount }
    }

    /// The channel's prefetch as last set, for a new consumer's buffer (0: none).
    var prefetch: UInt16 {
        let settings = record.settings
        return settings.prefetch[false] ?? settings.prefetch[true] ?? 0
    }

    /// Asks the broker to redeliver this channel's unacknowledged messages (`basic.recover`);
    /// RabbitMQ supports only `requeue: true`.
    public func recover(requeue: Bool = true) async throws {
        try await call(.basic(.recover(.init(requeue: requeue))))
    }

    /// Whether the broker has paused publishing on this channel with `channel.flow`. (The client
    /// does not offer to send channel.flow itself: RabbitMQ answers a request to pause by closing
    /// the connection with 540 NOT_IMPLEMENTED.)
    public var isFlowActive: Bool {
        guard let handle = record.openHandle else { return true }
        return handle.core.state.withLock { $0.channels[handle.id]?.flowActive ?? true }
    }
}
