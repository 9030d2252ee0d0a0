extension AMQPChannel {
    /// Publishes a message.
    ///
    /// The method, header and body frames are encoded into the connection's write buffer in one
    /// step (they never interleave with another publish) and written by the I/O thread, usually
    /// together with other publishes. The call suspends only while publishing must wait: the
    /// broker blocked the connection or paused the channel, too many bytes are queued, or the
    /// channel's confirm window is full.
    ///
    /// With `mandatory`, a message no queue accepts comes back on ``returnedMessages()``. On a
    /// channel in confirm mode, await the returned ``PublishConfirmation`` to learn whether the
    /// broker took the message.
    @discardableResult
    public func publish(
        _ body: some Collection<UInt8> & Sendable, exchange: String = "", routingKey: String,
        mandatory: Bool = false, properties: BasicProperties = BasicProperties()
    ) async throws -> PublishConfirmation {
        let method = AMQPMethod.basic(.publish(.init(exchange: exchange, routingKey: routingKey, mandatory: mandatory)))
        var handle: ChannelHandle
        if let open = record.openHandle { handle = open } else { handle = try await currentHandle() }
        while true {
            let (id, core) = (handle.id, handle.core)
            let current = handle
            let attempt = core.state.withLock { s -> PublishAttempt in
                switch s.publishPermission(current) {
                case .denied(let error): return .failed(error)
                case .wait: return .wait
                case .granted: break
                }
                let frameMax = s.tune?.frameMax ?? 131_072
                var promise: ConfirmPromise?
                var sequence: UInt64 = 0
                // publishPermission found the channel, under this same lock.
                let channel = s.channels[id]
                if channel?.confirms != nil {
                    let p = ConfirmPromise()
                    sequence = channel?.confirms?.register(p) ?? 0
                    promise = p
                }
                do throws(AMQPCodecError) {
                    try AMQPFrameEncoder.encodeContent(
                        method, channel: id, properties: properties, body: body, frameMax: frameMax, into: &s.outbound)
                } catch {
                    channel?.confirms?.unregisterLast()  // nothing to undo without confirms
                    return .failed(.invalidArgument(error))
                }
                return .sent(PublishConfirmation(sequenceNumber: sequence, promise: promise), wake: s.takeWakeup())
            }
            switch attempt {
            case .sent(let confirmation, let wake):
                if wake { core.wakeup.signal() }
                return confirmation
            case .failed(let error):
                // The connection failed before this publish was written, and is being recovered:
                // publish on the new connection (nothing was sent, so nothing is duplicated).
                guard case .suspended = record.current else { throw error }
                handle = try await currentHandle()
            case .wait:
                try await core.waitForPermission { s in s.publishPermission(current) }
            }
        }
    }

    /// Publishes a UTF-8 string.
    @discardableResult
    public func publish(
        _ text: String, exchange: String = "", routingKey: String, mandatory: Bool = false,
        properties: BasicProperties = BasicProperties()
    ) async throws -> PublishConfirmation {
        try await publish(
            Array(text.utf8), exchange: exchange, routingKey: routingKey, mandatory: mandatory, properties: properties)
    }

    /// Puts the channel in confirm mode: the broker acks or nacks every publish from now on.
    /// At most `window` publishes may be unconfirmed at once; `publish` waits beyond that.
    /// Restored after recovery (sequence numbers restart at 1 there).
    public func enablePublisherConfirms(window: Int = 1000) async throws {
        guard window > 0 else { throw AMQPError(.invalidArgument, "the confirm window must be at least 1") }
        let handle = try await currentHandle()
        _ = try await handle.core.request(handle, .confirm(.select(.init()))) { s, _ in
            // Publishes written after select are numbered from 1: start counting with the frame.
            if s.channels[handle.id]?.confirms == nil { s.channels[handle.id]?.confirms = ConfirmTracker() }
            s.channels[handle.id]?.confirmWindow = window
        }
        record.updateSettings { $0.confirmWindow = window }
    }

    /// A new subscription to messages the broker returns as unroutable (`mandatory` publishes).
    /// It holds up to 256 messages, dropping the oldest when the reader falls behind, and ends
    /// when the channel closes for good (it survives recovery). Only messages returned after
    /// subscribing are seen.
    public func returnedMessages() -> BroadcastSubscription<AMQPReturnedMessage> {
        BroadcastSubscription(record.returns)
    }

    /// Calls `handler` with every message the broker returns on this channel as unroutable, on the
    /// connection's I/O thread and in frame order: for a `mandatory` publish on a confirm-mode
    /// channel, before that publish's ``PublishConfirmation`` completes (RabbitMQ sends the
    /// return, then the ack). That lets a publisher tell "confirmed" from "confirmed but routed
    /// nowhere" without a race, typically by message id. The handler must be quick and must not
    /// block; it replaces any earlier one, `nil` removes it, and it survives recovery.
    public func onReturn(_ handler: (@Sendable (AMQPReturnedMessage) -> Void)?) {
        record.returnHandler.withLock { $0 = handler }
    }

    /// Starts a transaction mode on the channel (`tx.select`): publishes and acks take effect on
    /// ``commitTransaction()``. Restored after recovery (an open transaction is lost with its
    /// connection).
    public func enableTransactions() async throws {
        try await call(.tx(.select(.init())))
        record.updateSettings { $0.transactional = true }
    }
    public func commitTransaction() async throws { try await call(.tx(.commit(.init()))) }
    public func rollbackTransaction() async throws { try await call(.tx(.rollback(.init()))) }
}

enum PublishAttempt {
    case sent(PublishConfirmation, wake: Bool)
    case wait
    case failed(AMQPError)
}
