/// A channel: where queues and exchanges are declared, messages published and consumed.
///
/// A channel is cheap; use one per concern (one for publishing with confirms, one per consumer
/// group). When the broker closes a channel (404 for a missing queue, 406 for a bad ack, ...),
/// the calls waiting on it fail with an ``AMQPError`` carrying the broker's reply, its
/// consumers end with that error, and the connection stays up: open another channel.
public final class AMQPChannel: Sendable {
    /// The connection this channel lives on.
    public let connection: AMQPConnection
    let handle: ChannelHandle

    init(connection: AMQPConnection, handle: ChannelHandle) {
        self.connection = connection
        self.handle = handle
    }

    /// The channel number on the connection.
    public var id: UInt16 { handle.id }
    var core: ConnectionCore { handle.core }

    /// Whether the channel is open.
    public var isOpen: Bool {
        core.state.withLock { s in
            s.channels[id]?.incarnation == handle.incarnation && s.machine.channel(id)?.isOpen == true
        }
    }

    /// Sends a synchronous method and returns the broker's reply method.
    @discardableResult
    func call(_ method: AMQPMethod, prepare: ((inout ShellState, RequestID) -> Void)? = nil) async throws
        -> AMQPMethod
    {
        let reply = try await core.request(handle, method, prepare: prepare)
        guard case .method(let answer) = reply else {
            throw AMQPError(.protocolError, "\(method.id) was answered with content", channel: id)
        }
        return answer
    }

    /// Closes the channel and waits for the broker's close-ok. Consumers on it end (without an
    /// error), and publishes still unconfirmed fail with `confirmOutcomeUnknown`.
    /// Closing a closed channel does nothing.
    public func close() async throws {
        let request = core.nextRequestID()
        let incarnation = handle.incarnation
        let id = self.id
        _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ChannelReply, any Error>) in
            core.update { s, effects in
                guard s.channels[id]?.incarnation == incarnation, s.machine.channel(id) != nil else {
                    effects.append(.resumeReply(continuation, .success(.method(.channel(.closeOk(.init()))))))
                    return
                }
                s.replyWaiters[request] = continuation
                try? s.machine.withChannel(id, into: &s.actions) { (ch, actions) throws(AMQPError) in
                    ch.close(request: request, into: &actions)
                }
            }
        }
    }

    /// Limits how many unacknowledged messages the broker sends: `prefetchCount` messages (0 is
    /// no limit) per consumer started after this call, or for the whole channel with `global`
    /// (RabbitMQ's per_consumer_qos semantics).
    public func setPrefetch(count prefetchCount: UInt16, size prefetchSize: UInt32 = 0, global: Bool = false)
        async throws
    {
        let id = self.id
        try await call(.basic(.qos(.init(prefetchSize: prefetchSize, prefetchCount: prefetchCount, global: global)))) {
            s, _ in
            s.channels[id]?.prefetchCount = prefetchCount
            s.channels[id]?.prefetchGlobal = global
        }
    }

    /// Asks the broker to redeliver this channel's unacknowledged messages (`basic.recover`);
    /// RabbitMQ supports only `requeue: true`.
    public func recover(requeue: Bool = true) async throws {
        try await call(.basic(.recover(.init(requeue: requeue))))
    }

    /// Whether the broker has paused publishing on this channel with `channel.flow`. (The client
    /// does not offer to send channel.flow itself: RabbitMQ answers a request to pause by closing
    /// the connection with 540 NOT_IMPLEMENTED.)
    public var isFlowActive: Bool { core.state.withLock { $0.channels[id]?.flowActive ?? true } }
}
