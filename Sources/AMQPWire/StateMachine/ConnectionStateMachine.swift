/// The connection's protocol state: the handshake, the open connection with its channels,
/// `connection.blocked`, heartbeats and the close. Pure: frames, intents and the clock in,
/// ``ConnectionAction``s out; the shell owns the socket and the waiters.
struct ConnectionStateMachine: Sendable {
    /// What the handshake needs from the configuration.
    struct Handshake: Sendable {
        var username: String
        var password: String
        var mechanisms: [AuthMechanism]
        var virtualHost: String
        var clientProperties: FieldTable
        var requested: TuneParameters
        var maxMessageSize: Int
    }

    enum State: Sendable {
        case idle
        /// Protocol header sent; waiting for `connection.start`.
        case awaitingStart
        /// `start-ok` sent; waiting for `tune` (or `secure`).
        case awaitingTune(AuthMechanism)
        /// `tune-ok` and `open` sent.
        case awaitingOpenOk(TuneParameters)
        case open(TuneParameters)
        /// `connection.close` sent; waiting for close-ok.
        case closing(AMQPError?)
        case closed
    }

    let handshake: Handshake
    private(set) var state: State = .idle
    private(set) var serverProperties: FieldTable = [:]
    private(set) var heartbeat: HeartbeatMonitor
    private(set) var isBlocked = false
    private var channels: [UInt16: ChannelStateMachine] = [:]
    private var lastChannelID: UInt16 = 0
    /// Requests on channel 0 (update-secret, close), in order.
    private var connectionRequests = RingBuffer<RequestID>(initialCapacity: 2)

    init(handshake: Handshake, now: ContinuousClock.Instant) {
        self.handshake = handshake
        self.heartbeat = HeartbeatMonitor(now: now)
    }

    var tuneParameters: TuneParameters? {
        switch state {
        case .awaitingOpenOk(let p), .open(let p): p
        default: nil
        }
    }

    var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    var isClosed: Bool {
        if case .closed = state { return true }
        return false
    }

    // MARK: Handshake

    mutating func start(into actions: inout [ConnectionAction]) {
        guard case .idle = state else { return }
        state = .awaitingStart
        actions.append(.sendProtocolHeader)
    }

    // MARK: Intents

    /// Opens a channel on the next free id, or fails `request` when none is left.
    mutating func openChannel(request: RequestID, into actions: inout [ConnectionAction]) -> UInt16? {
        guard case .open(let tune) = state else {
            actions.append(.fail(request, notOpenError))
            return nil
        }
        let limit = tune.channelMax
        guard channels.count < Int(limit) else {
            actions.append(
                .fail(
                    request,
                    AMQPError(.channelLimitReached, "all \(limit) channels (the negotiated channel_max) are open")))
            return nil
        }
        // Round-robin from the last id, so a just-closed id is not reused while late frames may be about.
        var candidate = lastChannelID
        repeat {
            candidate = candidate >= limit ? 1 : candidate + 1
        } while channels[candidate] != nil
        lastChannelID = candidate
        channels[candidate] = ChannelStateMachine(
            id: candidate, openRequest: request, maxMessageSize: handshake.maxMessageSize, into: &actions)
        return candidate
    }

    /// Runs an intent on an open channel; throws when the connection or the channel is gone.
    mutating func withChannel<R>(
        _ id: UInt16, into actions: inout [ConnectionAction],
        _ body: (inout ChannelStateMachine, inout [ConnectionAction]) throws(AMQPError) -> R
    ) throws(AMQPError) -> R {
        guard isOpen else { throw notOpenError }
        guard let index = channels.index(forKey: id) else {
            throw AMQPError(.channelClosed, "channel \(id) is closed", channel: id)
        }
        return try body(&channels.values[index], &actions)
    }

    func channel(_ id: UInt16) -> ChannelStateMachine? { channels[id] }

    mutating func updateSecret(
        request: RequestID, newSecret: [UInt8], reason: String,
        into actions: inout [ConnectionAction]
    ) {
        guard isOpen else {
            actions.append(.fail(request, notOpenError))
            return
        }
        connectionRequests.append(request)
        actions.append(
            .sendMethod(channel: 0, .connection(.updateSecret(.init(newSecret: newSecret, reason: reason)))))
    }

    /// The application closes the connection. `request` resolves on close-ok.
    mutating func close(request: RequestID?, into actions: inout [ConnectionAction]) {
        switch state {
        case .closed:
            if let request { actions.append(.succeed(request, .method(.connection(.closeOk(.init()))))) }
        case .idle:
            if let request { actions.append(.succeed(request, .method(.connection(.closeOk(.init()))))) }
            state = .closed
            actions.append(.closeConnection(nil))
        case .closing:
            if let request { connectionRequests.append(request) }
        case .awaitingStart, .awaitingTune, .awaitingOpenOk:
            // Nothing worth a graceful close yet.
            let error = AMQPError(.connectionClosed, "the connection was closed during the handshake")
            failEverything(error, into: &actions)
            if let request { actions.append(.succeed(request, .method(.connection(.closeOk(.init()))))) }
            state = .closed
            actions.append(.closeConnection(error))
        case .open:
            let error = AMQPError(.connectionClosed, "the connection was closed by the application")
            failEverything(error, cleanEnd: true, into: &actions)
            if let request { connectionRequests.append(request) }
            state = .closing(nil)
            actions.append(.sendMethod(channel: 0, .connection(.close(.init(replyCode: 200, replyText: "Goodbye")))))
        }
    }

    /// The socket failed or the peer closed it, or the clock says the peer is dead.
    mutating func transportFailed(_ error: AMQPError, into actions: inout [ConnectionAction]) {
        switch state {
        case .closed:
            return
        case .closing(let reason):
            // The peer closed the socket instead of answering close-ok: close is done all the same.
            // Only close requests wait in `connectionRequests` now; they succeed before anything fails.
            while let request = connectionRequests.removeFirst() {
                actions.append(.succeed(request, .method(.connection(.closeOk(.init())))))
            }
            failEverything(reason ?? error, into: &actions)
            state = .closed
            actions.append(.closeConnection(reason))
        case .awaitingTune where error.code == .ioError:
            // Brokers without authentication_failure_close drop the socket on a bad login.
            var error = error
            error.message += " (during authentication: the credentials may have been refused)"
            fail(error, into: &actions)
        default:
            fail(error, into: &actions)
        }
    }

    /// Closes with an error the client found (a protocol violation): tell the broker why, then drop.
    mutating func fail(_ error: AMQPError, into actions: inout [ConnectionAction]) {
        guard !isClosed else { return }
        failEverything(error, into: &actions)
        state = .closed
        actions.append(.closeConnection(error))
    }

    // MARK: Clock

    mutating func bytesRead(now: ContinuousClock.Instant) { heartbeat.bytesRead(now: now) }
    mutating func bytesWritten(now: ContinuousClock.Instant) { heartbeat.bytesWritten(now: now) }

    mutating func tick(now: ContinuousClock.Instant, into actions: inout [ConnectionAction]) {
        switch heartbeat.tick(now: now) {
        case .none: break
        case .sendHeartbeat: actions.append(.sendHeartbeat)
        case .peerIsDead:
            let seconds = heartbeat.interval.components.seconds
            transportFailed(
                AMQPError(
                    .heartbeatTimeout,
                    "no data from the broker for \(seconds * 2) s (two heartbeat intervals of \(seconds) s); the connection is considered dead"
                ), into: &actions)
        }
    }

    // MARK: Frames

    mutating func receive(_ frame: AMQPFrame, into actions: inout [ConnectionAction]) {
        do {
            try dispatch(frame, into: &actions)
        } catch {
            protocolViolation(error, into: &actions)
        }
    }

    /// A frame, or a whole delivery: the same as its three frames, one after the other.
    mutating func receive(_ item: InboundItem, into actions: inout [ConnectionAction]) {
        switch item {
        case .frame(let frame):
            receive(frame, into: &actions)
        case .delivery(let id, let message):
            if isOpen, let index = channels.index(forKey: id) {
                do {
                    if try channels.values[index].receive(wholeDelivery: message, into: &actions) { return }
                } catch {
                    protocolViolation(error, into: &actions)
                    return
                }
            }
            // Anything unusual (a channel closing, or not open, or mid-content): the frames
            // themselves, so every rule and error is the frame-by-frame one.
            guard case .deliver(let deliver) = message.method else { return }
            receive(.method(channel: id, .basic(.deliver(deliver))), into: &actions)
            let header = ContentHeader(bodySize: UInt64(message.body.count), properties: message.properties)
            receive(.header(channel: id, header), into: &actions)
            if !message.body.isEmpty { receive(.body(channel: id, message.body[...]), into: &actions) }
        }
    }

    /// A frame decoding error: close the connection with the spec's reply code.
    mutating func decodingFailed(_ error: AMQPCodecError, into actions: inout [ConnectionAction]) {
        if error.code == .protocolVersionMismatch {
            fail(AMQPError(.protocolError, error.message, underlying: error), into: &actions)
            return
        }
        protocolViolation(
            AMQPError(
                .protocolError, "malformed data from the broker: \(error.message)",
                replyCode: AMQPReplyCode(error.replyCode), replyText: error.message, underlying: error),
            into: &actions)
    }

    private mutating func protocolViolation(_ error: AMQPError, into actions: inout [ConnectionAction]) {
        guard !isClosed else { return }
        let open = isOpen
        failEverything(error, into: &actions)
        if open, let code = error.replyCode {
            let text = String((error.replyText ?? error.message).utf8.prefix(200)) ?? "protocol violation"
            actions.append(
                .sendMethod(channel: 0, .connection(.close(.init(replyCode: code.rawValue, replyText: text)))))
        }
        state = .closed
        actions.append(.closeConnection(error))
    }

    private mutating func dispatch(_ frame: AMQPFrame, into actions: inout [ConnectionAction]) throws(AMQPError) {
        switch frame {
        case .heartbeat:
            return
        case .method(0, let method):
            guard case .connection(let connectionMethod) = method else {
                throw violation("\(method.id) on channel 0, which carries only connection methods", code: 503)
            }
            try receive(connectionMethod, into: &actions)
        case .method(let id, let method):
            if case .connection = method {
                throw violation("\(method.id) on channel \(id); connection methods use channel 0", code: 503)
            }
            try onChannel(id, into: &actions) { (channel, actions) throws(AMQPError) in
                try channel.receive(method, into: &actions)
            }
        case .header(let id, let header):
            try onChannel(id, into: &actions) { (channel, actions) throws(AMQPError) in
                try channel.receive(header, into: &actions)
            }
        case .body(let id, let body):
            try onChannel(id, into: &actions) { (channel, actions) throws(AMQPError) in
                try channel.receive(body: body, into: &actions)
            }
        }
    }

    /// Hands a frame to its channel. A frame for a channel that is not open is a connection error
    /// (504); after the client sent connection.close, channel frames are discarded.
    private mutating func onChannel(
        _ id: UInt16, into actions: inout [ConnectionAction],
        _ body: (inout ChannelStateMachine, inout [ConnectionAction]) throws(AMQPError) ->
            ChannelStateMachine.Disposition
    ) throws(AMQPError) {
        guard isOpen else {
            if isClosing { return }
            throw violation("a channel frame before the connection was open", code: 505)
        }
        // In place through `values`: `channels[id]!` would move the channel out and back per frame.
        guard let index = channels.index(forKey: id) else {
            throw violation("a frame for channel \(id), which is not open", code: 504)
        }
        if try body(&channels.values[index], &actions) == .release { channels.remove(at: index) }
    }

    private var isClosing: Bool {
        if case .closing = state { return true }
        return false
    }

    private mutating func receive(_ method: AMQPMethod.Connection, into actions: inout [ConnectionAction])
        throws(AMQPError)
    {
        switch (state, method) {
        case (.awaitingStart, .start(let start)):
            guard start.versionMajor == 0, start.versionMinor == 9 else {
                throw violation(
                    "the broker offers AMQP \(start.versionMajor)-\(start.versionMinor), not 0-9", code: 540)
            }
            serverProperties = start.serverProperties
            let offered = String(decoding: start.mechanisms, as: UTF8.self).split(separator: " ").map(String.init)
            guard let mechanism = handshake.mechanisms.first(where: { offered.contains($0.rawValue) }) else {
                let error = AMQPError(
                    .noCommonAuthMechanism,
                    "the broker offers \(offered.joined(separator: ", ")); the client allows \(handshake.mechanisms.map(\.rawValue).joined(separator: ", "))"
                )
                fail(error, into: &actions)
                return
            }
            let response: [UInt8]
            do {
                response = try mechanism.response(username: handshake.username, password: handshake.password)
            } catch {
                fail(.invalidArgument(error), into: &actions)
                return
            }
            state = .awaitingTune(mechanism)
            actions.append(
                .sendMethod(
                    channel: 0,
                    .connection(
                        .startOk(
                            .init(
                                clientProperties: handshake.clientProperties, mechanism: mechanism.rawValue,
                                response: response, locale: "en_US")))))
        case (.awaitingTune(let mechanism), .secure):
            // None of our mechanisms has a second step; answer with the same response, as the Java client does.
            let response = (try? mechanism.response(username: handshake.username, password: handshake.password)) ?? []
            actions.append(.sendMethod(channel: 0, .connection(.secureOk(.init(response: response)))))
        case (.awaitingTune, .tune(let tune)):
            let agreed = TuneNegotiation.negotiate(client: handshake.requested, server: tune)
            state = .awaitingOpenOk(agreed)
            // Heartbeating starts with tune-ok. The shell recorded this frame's read just before.
            heartbeat.start(intervalSeconds: agreed.heartbeat, now: heartbeat.lastRead)
            actions.append(
                .sendMethod(
                    channel: 0,
                    .connection(
                        .tuneOk(
                            .init(channelMax: agreed.channelMax, frameMax: agreed.frameMax, heartbeat: agreed.heartbeat)
                        ))))
            actions.append(.sendMethod(channel: 0, .connection(.open(.init(virtualHost: handshake.virtualHost)))))
        case (.awaitingOpenOk(let agreed), .openOk):
            state = .open(agreed)
            actions.append(.handshakeCompleted(agreed, serverProperties: serverProperties))
        case (.open, .blocked(let blocked)):
            isBlocked = true
            actions.append(.blocked(reason: blocked.reason))
        case (.open, .unblocked):
            isBlocked = false
            actions.append(.unblocked)
        case (.open, .updateSecretOk):
            guard let request = connectionRequests.removeFirst() else {
                throw violation("update-secret-ok answers no request", code: 505)
            }
            actions.append(.succeed(request, .method(.connection(method))))
        case (.closing(var reason), .closeOk), (.closing(var reason), .close):
            if case .close(let close) = method {
                actions.append(.sendMethod(channel: 0, .connection(.closeOk(.init()))))
                // The broker closed for a reason of its own as the application was closing: keep it.
                if close.replyCode != 200, reason == nil {
                    reason = .closedByBroker(
                        (close.replyCode, close.replyText, close.classID, close.methodID), channel: nil)
                }
            }
            while let request = connectionRequests.removeFirst() {
                actions.append(.succeed(request, .method(.connection(.closeOk(.init())))))
            }
            state = .closed
            actions.append(.closeConnection(reason))
        case (.closing, _):
            return  // everything but close and close-ok is discarded after sending close
        case (_, .close(let close)):
            actions.append(.sendMethod(channel: 0, .connection(.closeOk(.init()))))
            let error = handshakeError(for: close)
            failEverything(error, into: &actions)
            state = .closed
            actions.append(.closeConnection(error))
        default:
            throw violation("unexpected \(method.id) in state \(stateName)", code: 505)
        }
    }

    /// The broker's close, named for what it means at this point of the handshake.
    private func handshakeError(for close: AMQPMethod.Connection.Close) -> AMQPError {
        var error = AMQPError.closedByBroker(
            (close.replyCode, close.replyText, close.classID, close.methodID), channel: nil)
        switch state {
        case .awaitingTune(let mechanism) where close.replyCode == 403:
            error.code = .authenticationFailed
            error.message =
                "the broker refused the login of user '\(handshake.username)' with \(mechanism.rawValue): \(close.replyText)"
        case .awaitingOpenOk where [402, 403, 530].contains(close.replyCode):
            error.code = .virtualHostAccessRefused
            error.message = "the broker refused access to virtual host '\(handshake.virtualHost)': \(close.replyText)"
        default:
            break
        }
        return error
    }

    private var stateName: String {
        switch state {
        case .idle: "idle"
        case .awaitingStart: "awaiting connection.start"
        case .awaitingTune: "awaiting connection.tune"
        case .awaitingOpenOk: "awaiting connection.open-ok"
        case .open: "open"
        case .closing: "closing"
        case .closed: "closed"
        }
    }

    var notOpenError: AMQPError {
        switch state {
        case .closed, .closing: AMQPError(.connectionClosed, "the connection is closed")
        default: AMQPError(.connectionClosed, "the connection is not open yet")
        }
    }

    /// Fails every channel and every connection-level request.
    private mutating func failEverything(
        _ error: AMQPError, cleanEnd: Bool = false, into actions: inout [ConnectionAction]
    ) {
        for id in channels.keys.sorted() {
            channels[id]!.connectionClosed(error, cleanEnd: cleanEnd, into: &actions)
        }
        channels.removeAll()
        while let request = connectionRequests.removeFirst() { actions.append(.fail(request, error)) }
    }

    private func violation(_ message: String, code: UInt16) -> AMQPError {
        AMQPError(
            .protocolError, "protocol violation by the broker: \(message)", replyCode: AMQPReplyCode(code),
            replyText: message)
    }
}
