/// One channel's protocol state: opening, open or closing; the synchronous requests awaiting
/// their replies, in order; and the content being assembled. Pure: frames and intents in,
/// ``ConnectionAction``s out.
///
/// A frame that breaks the protocol throws an ``AMQPError`` with code `protocolError` and the
/// reply code the connection must close with (the spec makes those connection errors).
struct ChannelStateMachine: Sendable {
    enum State: Sendable, Equatable {
        case opening(RequestID)
        case open
        /// `channel.close` sent; waiting for close-ok. The request is the application's, if it asked.
        case closing(RequestID?)
    }

    private struct Pending: Sendable {
        var id: RequestID
        var method: AMQPMethodID
    }

    let id: UInt16
    private(set) var state: State
    private var pending = RingBuffer<Pending>(initialCapacity: 4)
    private var assembler: ContentAssembler
    /// The `basic.get` whose `get-ok` content is being assembled.
    private var getRequest: RequestID?
    /// False while the broker has paused publishing with `channel.flow`.
    private(set) var flowActive = true
    /// Further `close()` calls made while closing: they resolve with the first.
    private var extraCloseRequests: [RequestID] = []

    /// Starts opening: the caller sends the returned `channel.open`.
    init(id: UInt16, openRequest: RequestID, maxMessageSize: Int, into actions: inout [ConnectionAction]) {
        self.id = id
        self.state = .opening(openRequest)
        self.assembler = ContentAssembler(maxMessageSize: maxMessageSize)
        actions.append(.sendMethod(channel: id, .channel(.open(.init()))))
    }

    var isOpen: Bool { state == .open }

    /// The error for an intent on a channel that is not open.
    var notOpenError: AMQPError {
        AMQPError(.channelClosed, "channel \(id) is closing; open a new channel", channel: id)
    }

    // MARK: Intents

    /// Sends a synchronous request; its reply resolves `request`.
    mutating func send(request: RequestID, _ method: AMQPMethod, into actions: inout [ConnectionAction]) {
        guard state == .open else {
            actions.append(.fail(request, notOpenError))
            return
        }
        precondition(!method.responseIDs.isEmpty, "\(method.id) is not a synchronous request")
        pending.append(Pending(id: request, method: method.id))
        actions.append(.sendMethod(channel: id, method))
    }

    /// Sends a method that has no reply (ack, nack, reject, a nowait cancel).
    mutating func send(_ method: AMQPMethod, into actions: inout [ConnectionAction]) throws(AMQPError) {
        guard state == .open else { throw notOpenError }
        actions.append(.sendMethod(channel: id, method))
    }

    /// Closes the channel; `request` resolves on close-ok. Requests still waiting fail now, since
    /// the broker discards what follows a close.
    mutating func close(
        request: RequestID?, replyCode: UInt16 = 200, replyText: String = "Goodbye",
        into actions: inout [ConnectionAction]
    ) {
        switch state {
        case .closing:
            // Already closing: this caller waits for the same close-ok.
            if let request { extraCloseRequests.append(request) }
            return
        case .opening(let open):
            actions.append(.fail(open, AMQPError(.channelClosed, "the channel was closed while opening", channel: id)))
        case .open:
            break
        }
        state = .closing(request)
        failPending(
            AMQPError(.channelClosed, "channel \(id) was closed by the application", channel: id), into: &actions)
        actions.append(.sendMethod(channel: id, .channel(.close(.init(replyCode: replyCode, replyText: replyText)))))
    }

    /// The connection is gone: fail everything. With `cleanEnd` (the application closed the
    /// connection) consumers end without an error; waiting requests fail all the same.
    mutating func connectionClosed(_ error: AMQPError, cleanEnd: Bool = false, into actions: inout [ConnectionAction]) {
        switch state {
        case .opening(let open): actions.append(.fail(open, error))
        case .closing(let request?): actions.append(.fail(request, error))
        case .closing(nil), .open: break
        }
        for request in extraCloseRequests { actions.append(.fail(request, error)) }
        extraCloseRequests = []
        failPending(error, into: &actions)
        actions.append(cleanEnd ? .channelClosed(channel: id, nil) : .channelLost(channel: id, error))
    }

    // MARK: Frames

    /// The outcome of a frame: go on, or the channel is gone and its id may be reused.
    enum Disposition: Equatable { case keep, release }

    mutating func receive(_ method: AMQPMethod, into actions: inout [ConnectionAction]) throws(AMQPError)
        -> Disposition
    {
        switch state {
        case .opening(let open):
            switch method {
            case .channel(.openOk):
                state = .open
                actions.append(.succeed(open, .method(method)))
                return .keep
            case .channel(.close(let close)):
                actions.append(.sendMethod(channel: id, .channel(.closeOk(.init()))))
                actions.append(.fail(open, brokerError(close)))
                return .release
            default:
                throw violation("\(method.id) while channel \(id) was opening")
            }
        case .closing(let request):
            // After sending close, everything but close and close-ok is discarded (spec 2.2.4 / 4.2.3).
            switch method {
            case .channel(.closeOk), .channel(.close):
                if case .channel(.close) = method {
                    actions.append(.sendMethod(channel: id, .channel(.closeOk(.init()))))
                }
                if let request { actions.append(.succeed(request, .method(method))) }
                for extra in extraCloseRequests { actions.append(.succeed(extra, .method(method))) }
                extraCloseRequests = []
                // Without a request the shell may already have ended the channel's consumers
                // (message too large); announcing it again is harmless and frees its bookkeeping.
                actions.append(.channelClosed(channel: id, nil))
                return .release
            default:
                return .keep
            }
        case .open:
            return try receiveWhileOpen(method, into: &actions)
        }
    }

    private mutating func receiveWhileOpen(_ method: AMQPMethod, into actions: inout [ConnectionAction])
        throws(AMQPError) -> Disposition
    {
        switch method {
        case .basic(.deliver(let deliver)):
            try startContent(.deliver(deliver))
        case .basic(.return(let returned)):
            try startContent(.return(returned))
        case .basic(.getOk(let getOk)):
            // Content first: if it is refused, the get is still pending and fails with the rest.
            try startContent(.getOk(getOk))
            getRequest = try popPending(answeredBy: method)
        case .basic(.ack(let ack)):
            actions.append(.confirm(channel: id, deliveryTag: ack.deliveryTag, multiple: ack.multiple, ack: true))
        case .basic(.nack(let nack)):
            actions.append(.confirm(channel: id, deliveryTag: nack.deliveryTag, multiple: nack.multiple, ack: false))
        case .basic(.cancel(let cancel)):
            // The broker cancels a consumer (consumer_cancel_notify). A nowait cancel gets no reply.
            if !cancel.noWait {
                actions.append(.sendMethod(channel: id, .basic(.cancelOk(.init(consumerTag: cancel.consumerTag)))))
            }
            actions.append(.consumerCancelled(channel: id, consumerTag: cancel.consumerTag))
        case .channel(.flow(let flow)):
            flowActive = flow.active
            actions.append(.sendMethod(channel: id, .channel(.flowOk(.init(active: flow.active)))))
            actions.append(.flow(channel: id, active: flow.active))
        case .channel(.close(let close)):
            let error = brokerError(close)
            actions.append(.sendMethod(channel: id, .channel(.closeOk(.init()))))
            failPending(error, into: &actions)
            actions.append(.channelClosed(channel: id, error))
            return .release
        default:
            let request = try popPending(answeredBy: method)
            actions.append(.succeed(request, .method(method)))
        }
        return .keep
    }

    mutating func receive(_ header: ContentHeader, into actions: inout [ConnectionAction]) throws(AMQPError)
        -> Disposition
    {
        guard state == .open else { return .keep }  // discarded while closing
        let outcome: ContentAssembler.Outcome
        do { outcome = try assembler.header(header) } catch { throw violation(error.message, code: 505) }
        try finish(outcome, into: &actions)
        return .keep
    }

    /// A whole delivery (``InboundItem/delivery(channel:_:)``): what its three frames would have
    /// done, when the channel is open and between messages. Otherwise false, and nothing changed:
    /// the caller hands over the frames themselves.
    mutating func receive(wholeDelivery message: ContentAssembler.Message, into actions: inout [ConnectionAction])
        throws(AMQPError) -> Bool
    {
        guard state == .open, assembler.isIdle else { return false }
        try finish(assembler.whole(message), into: &actions)
        return true
    }

    mutating func receive(body: ArraySlice<UInt8>, into actions: inout [ConnectionAction]) throws(AMQPError)
        -> Disposition
    {
        guard state == .open else { return .keep }
        let outcome: ContentAssembler.Outcome
        do { outcome = try assembler.body(body) } catch { throw violation(error.message, code: 505) }
        try finish(outcome, into: &actions)
        return .keep
    }

    private mutating func finish(_ outcome: ContentAssembler.Outcome, into actions: inout [ConnectionAction])
        throws(AMQPError)
    {
        switch outcome {
        case .incomplete:
            return
        case .complete(let message):
            switch message.method {
            case .deliver: actions.append(.deliver(channel: id, message))
            case .return: actions.append(.returned(channel: id, message))
            case .getOk:
                guard let request = getRequest else { throw violation("get-ok content without a basic.get") }
                getRequest = nil
                actions.append(.succeed(request, .message(message)))
            }
        case .tooLarge(_, let size):
            // The message stays with the broker: closing the channel requeues what it delivered.
            let error = AMQPError(
                .messageTooLarge,
                "a message of \(size) bytes exceeds the maximum message size of \(assembler.maxMessageSize) bytes; channel \(id) was closed so the broker keeps the message (raise AMQPConnectionConfiguration.maxMessageSize to receive it)",
                channel: id)
            if let request = getRequest {
                getRequest = nil
                actions.append(.fail(request, error))
            }
            failPending(error, into: &actions)
            state = .closing(nil)
            actions.append(
                .sendMethod(channel: id, .channel(.close(.init(replyCode: 311, replyText: "message too large")))))
            actions.append(.channelClosed(channel: id, error))
        }
    }

    // MARK: Helpers

    private mutating func startContent(_ method: ContentAssembler.ContentMethod) throws(AMQPError) {
        do { try assembler.start(method) } catch { throw violation(error.message, code: 505) }
    }

    private mutating func popPending(answeredBy method: AMQPMethod) throws(AMQPError) -> RequestID {
        guard let head = pending.first else {
            throw violation("\(method.id) on channel \(id) answers no request")
        }
        guard head.method.responseIDs.contains(method.id) else {
            throw violation("\(method.id) on channel \(id) does not answer the pending \(head.method)")
        }
        pending.removeFirst()
        return head.id
    }

    private mutating func failPending(_ error: AMQPError, into actions: inout [ConnectionAction]) {
        while let request = pending.removeFirst() { actions.append(.fail(request.id, error)) }
        if let request = getRequest {
            getRequest = nil
            actions.append(.fail(request, error))
        }
    }

    private func brokerError(_ close: AMQPMethod.Channel.Close) -> AMQPError {
        .closedByBroker((close.replyCode, close.replyText, close.classID, close.methodID), channel: id)
    }

    func violation(_ message: String, code: UInt16 = 505) -> AMQPError {
        AMQPError(
            .protocolError, "protocol violation by the broker: \(message)", replyCode: AMQPReplyCode(code),
            replyText: message, channel: id)
    }
}
