import Synchronization

/// The state behind ``ConnectionCore``'s lock: the state machine, the bytes queued for the socket,
/// and everything the application waits on.
struct ShellState: Sendable {
    var machine: ConnectionStateMachine
    /// Scratch space for the state machine's actions, reused so a frame allocates nothing.
    var actions: [ConnectionAction] = []
    /// The messages for the `.deliver` effects, in order: kept apart from the effects so that
    /// each delivery is built in place here and handed over without being copied on the way.
    var deliveries: [AMQPDelivery] = []
    /// Frames queued for the I/O thread, which swaps the whole buffer out to write it.
    var outbound = OutboundQueue(capacity: 1 << 16)
    /// True while the I/O thread has been signalled and has not yet taken `outbound`.
    var wakeupPending = false
    /// Publishers wait once this many bytes are queued and unwritten.
    var outboundHighWater = 4 << 20

    var replyWaiters: [RequestID: CheckedContinuation<ChannelReply, any Error>] = [:]
    var permissionWaiters: [RequestID: CheckedContinuation<Void, any Error>] = [:]
    var connectWaiter: CheckedContinuation<Void, any Error>?
    var channels: [UInt16: ChannelShell] = [:]
    /// Channel opens in flight: request → channel id.
    var openingChannels: [RequestID: UInt16] = [:]
    /// `basic.consume` requests in flight: request → the consumer's channel and buffer.
    var pendingConsumers: [RequestID: PendingConsumer] = [:]
    /// `basic.get` requests in flight, so a get-ok whose caller stopped waiting is put back.
    var pendingGets: [RequestID: (channel: UInt16, noAck: Bool)] = [:]
    /// `basic.cancel` requests in flight: the consumer ends on cancel-ok even if nobody waits.
    var pendingCancels: [RequestID: (channel: UInt16, tag: String)] = [:]
    /// When the I/O thread gives up on an unanswered connection.close and drops the socket.
    var closeDeadline: ContinuousClock.Instant?

    var tune: TuneParameters?
    var serverProperties: FieldTable = [:]
    /// Set once the connection is closed, with why; later calls fail with it.
    var closedError: AMQPError?
    /// The I/O thread should flush what is queued and close the socket.
    var socketCloseRequested = false

    init(machine: ConnectionStateMachine) { self.machine = machine }

    struct PendingConsumer: Sendable {
        var channel: UInt16
        var buffer: DeliveryBuffer
        var noAck: Bool
    }

    /// True when `outbound` holds bytes the I/O thread has not been told about; marks it told.
    mutating func takeWakeup() -> Bool {
        guard !wakeupPending, outbound.readableBytes > 0 else { return false }
        wakeupPending = true
        return true
    }

    /// Throws why the channel is gone: the connection's error, the broker's close, or a plain "closed".
    func checkChannel(_ handle: ChannelHandle) throws(AMQPError) {
        if let closedError { throw closedError }
        guard let channel = channels[handle.id], channel.incarnation == handle.incarnation else {
            throw handle.record.closedError(channel: handle.id)
        }
    }

    /// Whether a publish on the channel may go now.
    func publishPermission(_ handle: ChannelHandle) -> PublishPermission {
        if let closedError { return .denied(closedError) }
        guard let channel = channels[handle.id], channel.incarnation == handle.incarnation, !channel.closing else {
            return .denied(handle.record.closedError(channel: handle.id))
        }
        if machine.isBlocked || !channel.flowActive || outbound.readableBytes >= outboundHighWater {
            return .wait
        }
        if let confirms = channel.confirms, confirms.outstanding >= channel.confirmWindow { return .wait }
        return .granted
    }

    mutating func wakePermissionWaiters(_ effects: inout [Effect]) {
        guard !permissionWaiters.isEmpty else { return }
        for waiter in permissionWaiters.values { effects.append(.resumeVoid(waiter, .success(()))) }
        permissionWaiters.removeAll()
    }

    // MARK: Actions

    /// ``deliveries``, taken out with the effects that hand them over.
    mutating func takeDeliveries() -> [AMQPDelivery] {
        if deliveries.isEmpty { return [] }
        defer { deliveries = [] }
        return deliveries
    }

    /// Carries out the state machine's actions: bytes into `outbound`, bookkeeping here, and
    /// everything that resumes a task or hands over a message into `effects` (and `deliveries`),
    /// for after the lock.
    mutating func applyActions(core: ConnectionCore, effects: inout [Effect]) {
        var index = 0
        while index < actions.count {
            let action = actions[index]
            index += 1
            apply(action, core: core, effects: &effects)
        }
        actions.removeAll(keepingCapacity: true)
    }

    private mutating func apply(_ action: ConnectionAction, core: ConnectionCore, effects: inout [Effect]) {
        switch action {
        case .sendProtocolHeader:
            outbound.withBuffer { $0.writeBytes(AMQPFrame.protocolHeader) }
        case .sendMethod(let channel, let method):
            do {
                try outbound.withBuffer { (buffer) throws(AMQPCodecError) in
                    try AMQPFrameEncoder.encodeMethod(method, channel: channel, into: &buffer)
                }
            } catch {
                // Every method reaching here was validated when the application passed its values.
                machine.fail(
                    AMQPError(.invalidArgument, "cannot encode \(method.id): \(error.message)", underlying: error),
                    into: &actions)
            }
        case .sendHeartbeat:
            outbound.withBuffer { AMQPFrameEncoder.writeHeartbeat(into: &$0) }
        case .handshakeCompleted(let tune, let serverProperties):
            self.tune = tune
            self.serverProperties = serverProperties
            core.supervisor?.opened(core)
            if let waiter = connectWaiter {
                connectWaiter = nil
                effects.append(.resumeVoid(waiter, .success(())))
            }
        case .blocked(let reason):
            effects.append(.event(.blocked(reason: reason)))
        case .unblocked:
            wakePermissionWaiters(&effects)
            effects.append(.event(.unblocked))
        case .closeConnection(let error):
            closeConnection(error, core: core, effects: &effects)
            core.closeRequested.store(true, ordering: .releasing)
        case .succeed(let request, let reply):
            succeed(request, reply, effects: &effects)
        case .fail(let request, let error):
            if let channel = openingChannels.removeValue(forKey: request) { channels[channel] = nil }
            pendingConsumers[request] = nil
            pendingGets[request] = nil
            pendingCancels[request] = nil
            if let waiter = replyWaiters.removeValue(forKey: request) {
                effects.append(.resumeReply(waiter, .failure(error)))
            }
        case .channelClosed(let id, let error):
            guard let channel = channels.removeValue(forKey: id) else { return }
            // Closed cleanly: by the application, the channel itself or the whole connection.
            let reason =
                error
                ?? (machine.isOpen ? nil : AMQPError(.connectionClosed, "the connection was closed by the application"))
            closeForGood(channel, reason, ending: error, core: core, effects: &effects)
        case .channelLost(let id, let error):
            guard let channel = channels.removeValue(forKey: id) else { return }
            if core.willRecover(error) {
                // Kept for the new connection: consumers wait, unconfirmed publishes fail.
                channel.suspend(error, effects: &effects)
                wakePermissionWaiters(&effects)
            } else {
                closeForGood(channel, error, core: core, effects: &effects)
            }
        case .deliver(let id, let message):
            deliver(channel: id, message, core: core, effects: &effects)
        case .returned(let id, let message):
            guard case .return(let r) = message.method, let channel = channels[id] else { return }
            effects.append(
                .returned(
                    channel.record,
                    AMQPReturnedMessage(
                        replyCode: AMQPReplyCode(r.replyCode), replyText: r.replyText, exchange: r.exchange,
                        routingKey: r.routingKey, properties: message.properties, body: message.body)))
        case .confirm(let id, let tag, let multiple, let ack):
            // One lookup per confirm: the channel is a class, changed in place.
            guard let channel = channels[id], let before = channel.confirms?.outstanding else { return }
            let threshold = channel.confirmWindow - max(1, channel.confirmWindow / 4)
            _ = channel.confirms?.resolve(deliveryTag: tag, multiple: multiple) { sequence, promise in
                effects.append(
                    .confirm(
                        promise,
                        ack
                            ? .success(())
                            : .failure(
                                AMQPError(
                                    .publishNacked,
                                    "the broker nacked publish \(sequence) on channel \(id): it did not take responsibility for the message",
                                    channel: id))))
            }
            // A publisher waits only on a full window; wake it once a quarter of the window is free
            // (when the count crosses that mark), not for each confirm: fewer wake-ups, and it
            // publishes the freed slots in one go.
            if before > threshold, let after = channel.confirms?.outstanding, after <= threshold {
                wakePermissionWaiters(&effects)
            }
        case .consumerCancelled(let id, let tag):
            channels[id]?.record.removeConsumer(tag: tag)
            guard let consumer = channels[id]?.consumers.removeValue(forKey: tag) else { return }
            effects.append(
                .finishConsumer(
                    consumer.buffer,
                    AMQPError(
                        .consumerCancelledByBroker,
                        "the broker cancelled consumer '\(tag)' on channel \(id) (its queue was deleted or became unavailable)",
                        channel: id)))
        case .flow(let id, let active):
            channels[id]?.flowActive = active
            if active { wakePermissionWaiters(&effects) }
        }
    }

    private mutating func succeed(_ request: RequestID, _ reply: ChannelReply, effects: inout [Effect]) {
        let waiter = replyWaiters.removeValue(forKey: request)
        if let channel = openingChannels.removeValue(forKey: request), waiter == nil {
            // The opener stopped waiting: close the channel rather than leak it.
            try? machine.withChannel(channel, into: &actions) { (ch, actions) throws(AMQPError) in
                ch.close(request: nil, into: &actions)
            }
        }
        if let pending = pendingConsumers.removeValue(forKey: request),
            case .method(.basic(.consumeOk(let ok))) = reply
        {
            if waiter != nil {
                channels[pending.channel]?.consumers[ok.consumerTag] = .init(
                    buffer: pending.buffer, noAck: pending.noAck)
            } else {
                // The consumer's task stopped waiting: cancel what the broker started.
                channels[pending.channel]?.abandon(ok.consumerTag, noAck: pending.noAck)
                try? machine.withChannel(pending.channel, into: &actions) { (ch, actions) throws(AMQPError) in
                    try ch.send(.basic(.cancel(.init(consumerTag: ok.consumerTag, noWait: true))), into: &actions)
                }
            }
        }
        if let pending = pendingGets[request], case .message(let message) = reply,
            case .getOk(let ok) = message.method,
            ok.deliveryTag > (channels[pending.channel]?.highestDeliveryTag ?? .max)
        {
            channels[pending.channel]!.highestDeliveryTag = ok.deliveryTag
        }
        if let pending = pendingGets.removeValue(forKey: request), waiter == nil, !pending.noAck,
            case .message(let message) = reply, case .getOk(let ok) = message.method
        {
            // The caller stopped waiting: put the message back rather than leave it unacknowledged.
            try? machine.withChannel(pending.channel, into: &actions) { (ch, actions) throws(AMQPError) in
                try ch.send(.basic(.reject(.init(deliveryTag: ok.deliveryTag, requeue: true))), into: &actions)
            }
        }
        if let pending = pendingCancels.removeValue(forKey: request),
            let consumer = channels[pending.channel]?.consumers.removeValue(forKey: pending.tag)
        {
            // Ends after what it buffered; the broker sends nothing more for it.
            effects.append(.finishConsumer(consumer.buffer, nil))
        }
        if let waiter { effects.append(.resumeReply(waiter, .success(reply))) }
    }

    private mutating func deliver(
        channel id: UInt16, _ message: ContentAssembler.Message, core: ConnectionCore, effects: inout [Effect]
    ) {
        guard case .deliver(let d) = message.method, let channel = channels[id] else { return }
        if d.deliveryTag > channel.highestDeliveryTag { channel.highestDeliveryTag = d.deliveryTag }
        guard let consumer = channel.consumers[d.consumerTag] else {
            // A consumer this client gave up on: put manual-ack deliveries back for others.
            if channel.abandonedConsumers[d.consumerTag]?.noAck == false {
                try? machine.withChannel(id, into: &actions) { (ch, actions) throws(AMQPError) in
                    try ch.send(.basic(.reject(.init(deliveryTag: d.deliveryTag, requeue: true))), into: &actions)
                }
            }
            return
        }
        deliveries.append(
            AMQPDelivery(
                consumerTag: d.consumerTag,
                deliveryTag: DeliveryTags.application(d.deliveryTag, offset: channel.tagOffset),
                redelivered: d.redelivered,
                exchange: d.exchange, routingKey: d.routingKey, properties: message.properties, body: message.body,
                messageCount: nil,
                channel: consumer.noAck ? Optional<ChannelHandle>.none : channel.handle(core, id)))
        // Consecutive deliveries to one consumer make one effect, which hands them over together.
        if case .deliver(let buffer, let count)? = effects.last, buffer === consumer.buffer {
            effects[effects.count - 1] = .deliver(buffer, count: count + 1)
        } else {
            effects.append(.deliver(consumer.buffer, count: 1))
        }
    }

    private mutating func closeConnection(_ error: AMQPError?, core: ConnectionCore, effects: inout [Effect]) {
        let reason = error ?? AMQPError(.connectionClosed, "the connection was closed by the application")
        if closedError == nil { closedError = reason }
        socketCloseRequested = true
        // Before any effect runs: a task that a failure below resumes sees the connection's state.
        core.supervisor?.coreClosing(core, error)
        if let waiter = connectWaiter {
            connectWaiter = nil
            effects.append(.resumeVoid(waiter, .failure(reason)))
        }
        for waiter in replyWaiters.values { effects.append(.resumeReply(waiter, .failure(reason))) }
        replyWaiters.removeAll()
        openingChannels.removeAll()
        pendingConsumers.removeAll()
        pendingGets.removeAll()
        pendingCancels.removeAll()
        for channel in channels.values { closeForGood(channel, error, core: core, effects: &effects) }
        channels.removeAll()
        wakePermissionWaiters(&effects)
        effects.append(.connectionEnded(error))
    }

    /// The channel will not come back: its handles report why, its consumers and returns end.
    /// The channel will not come back: its handles report `reason`, its consumers and returns
    /// end with `ending` (nil: a clean end).
    private mutating func closeForGood(
        _ channel: ChannelShell, _ reason: AMQPError?, ending: AMQPError?? = nil, core: ConnectionCore,
        effects: inout [Effect]
    ) {
        channel.record.markClosed(reason)
        core.supervisor?.forget(channel.record)
        channel.close(ending ?? reason, effects: &effects)
        wakePermissionWaiters(&effects)
    }
}

/// The shell's bookkeeping for one open channel. A class: the per-message paths reach it through
/// the channels dictionary, and reading a struct out of a dictionary copies (and retains) all of
/// it. Touched only under the connection's lock, like the rest of ``ShellState``.
final class ChannelShell: @unchecked Sendable {
    struct Consumer: Sendable {
        var buffer: DeliveryBuffer
        var noAck: Bool
    }

    /// Distinguishes this channel from earlier ones that had the same id.
    let incarnation: UInt64
    /// What outlives this channel (the application's channel object behind it).
    let record: ChannelRecord
    /// The application asked to close it: publishes are refused from now on.
    var closing = false
    /// Added to the broker's delivery tags (tags the application saw on earlier connections).
    let tagOffset: UInt64
    /// The highest delivery tag the broker gave on this channel.
    var highestDeliveryTag: UInt64 = 0
    var consumers: [String: Consumer] = [:]
    /// Consumers cancelled because nobody iterates them any more: tag → noAck, and the order they
    /// were abandoned in (bounded: deliveries for them only arrive until the broker takes the cancel).
    var abandonedConsumers: [String: (noAck: Bool, order: Int)] = [:]
    private var abandonedOrder: [String] = []
    var confirms: ConfirmTracker<ConfirmPromise>?
    /// The prefetch last set on the channel with basic.qos (0: none), and whether it was global.
    var prefetchCount: UInt16 = 0
    var prefetchGlobal = false
    var confirmWindow = Int.max
    var flowActive = true

    init(incarnation: UInt64, record: ChannelRecord, tagOffset: UInt64) {
        self.incarnation = incarnation
        self.record = record
        self.tagOffset = tagOffset
    }

    func handle(_ core: ConnectionCore, _ id: UInt16) -> ChannelHandle {
        ChannelHandle(core: core, id: id, incarnation: incarnation, record: record, tagOffset: tagOffset)
    }

    static let abandonedConsumerMemory = 64

    func abandon(_ tag: String, noAck: Bool) {
        abandonedConsumers[tag] = (noAck, abandonedOrder.count)
        abandonedOrder.append(tag)
        if abandonedOrder.count > Self.abandonedConsumerMemory {
            abandonedConsumers[abandonedOrder.removeFirst()] = nil
        }
    }

    /// Ends consumers and unconfirmed publishes: nil error means the application closed the channel.
    func close(_ error: AMQPError?, effects: inout [Effect]) {
        for consumer in consumers.values { effects.append(.finishConsumer(consumer.buffer, error)) }
        failUnconfirmed(error, effects: &effects)
        effects.append(.finishRecord(record, error))
    }

    /// The connection failed and will recover: unconfirmed publishes fail (their outcome is
    /// unknown), buffered deliveries that need an ack are dropped (the broker redelivers them on
    /// the new connection; their delivery tags are void), consumers and returns stay.
    func suspend(_ error: AMQPError, effects: inout [Effect]) {
        for consumer in consumers.values where !consumer.noAck { effects.append(.dropAcknowledgeable(consumer.buffer)) }
        record.advanceTagOffset(past: DeliveryTags.application(highestDeliveryTag, offset: tagOffset))
        failUnconfirmed(error, effects: &effects)
    }

    private func failUnconfirmed(_ error: AMQPError?, effects: inout [Effect]) {
        confirms?.drain { sequence, promise in
            let cause = error?.message ?? "the channel was closed"
            effects.append(
                .confirm(
                    promise,
                    .failure(
                        AMQPError(
                            .confirmOutcomeUnknown,
                            "publish \(sequence) was not confirmed before the channel ended (\(cause)); the broker may or may not have it",
                            underlying: error))))
        }
    }
}

/// What a channel's deliveries and the ``AMQPChannel`` use to reach their channel: the connection,
/// the channel id, which channel of that id it was, and the record that outlives it.
struct ChannelHandle: Sendable {
    let core: ConnectionCore
    let id: UInt16
    let incarnation: UInt64
    let record: ChannelRecord
    /// Added to the broker's delivery tags on this channel (see ``ChannelRecord``).
    let tagOffset: UInt64
}

/// Work that must happen after the lock is released: resuming tasks and handing over messages.
enum Effect: Sendable {
    case resumeReply(CheckedContinuation<ChannelReply, any Error>, Result<ChannelReply, AMQPError>)
    case resumeVoid(CheckedContinuation<Void, any Error>, Result<Void, AMQPError>)
    /// The next `count` of ``ShellState/deliveries`` go to the buffer.
    case deliver(DeliveryBuffer, count: Int)
    case finishConsumer(DeliveryBuffer, AMQPError?)
    case confirm(ConfirmPromise, Result<Void, AMQPError>)
    case returned(ChannelRecord, AMQPReturnedMessage)
    case finishRecord(ChannelRecord, AMQPError?)
    case dropAcknowledgeable(DeliveryBuffer)
    case event(AMQPConnectionEvent)
    case connectionEnded(AMQPError?)

    /// Runs `effects` in order, outside the lock. `deliveries` are the messages the `.deliver`
    /// effects count off (``ShellState/deliveries``); `filled` hears of a buffer a delivery
    /// filled (reading should pause for it).
    static func run(
        _ effects: [Effect], deliveries: [AMQPDelivery], core: ConnectionCore,
        filled: (DeliveryBuffer) -> Void = { _ in }
    ) {
        var next = 0
        for effect in effects {
            guard case .deliver(let buffer, let count) = effect else {
                effect.run(core: core)
                continue
            }
            let batch = deliveries[next..<next + count]
            next += count
            switch buffer.push(contentsOf: batch) {
            case .accepted: break
            case .full: filled(buffer)
            case .ended: for delivery in batch { try? delivery.reject(requeue: true) }  // back to the queue
            }
        }
    }

    private func run(core: ConnectionCore) {
        switch self {
        case .resumeReply(let waiter, let result): waiter.resume(with: result.mapError { $0 as any Error })
        case .resumeVoid(let waiter, let result): waiter.resume(with: result.mapError { $0 as any Error })
        case .deliver: preconditionFailure("deliveries are handed over by Effect.run(_:deliveries:core:filled:)")
        case .finishConsumer(let buffer, let error): buffer.finish(error)
        case .confirm(let promise, let result): promise.resolve(result)
        case .returned(let record, let message):
            // The handler first: it must see the return before the same publish's confirm resolves.
            record.returnHandler.withLock { $0 }?(message)
            record.returns.publish(message)
        case .finishRecord(let record, let error): record.finish(error)
        case .dropAcknowledgeable(let buffer): buffer.dropAcknowledgeable()
        case .event(let event): core.supervisor?.coreEvent(core, event)
        case .connectionEnded(let error): core.supervisor?.coreEnded(core, error)
        }
    }
}
