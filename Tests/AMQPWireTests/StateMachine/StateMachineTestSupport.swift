import Testing

@testable import AMQPWire

// Helpers for driving the pure state machines without a socket: actions are turned into an
// Equatable mirror so a test can compare a whole step's output with one `#expect`.

/// An ``AMQPError`` reduced to the parts tests compare (the message is checked separately,
/// where it matters, because its wording is for people).
struct ErrorShape: Equatable, CustomStringConvertible {
    var code: AMQPError.Code
    var replyCode: UInt16?
    var channel: UInt16?
    var method: AMQPMethodID?

    init(_ code: AMQPError.Code, replyCode: UInt16? = nil, channel: UInt16? = nil, method: AMQPMethodID? = nil) {
        self.code = code
        self.replyCode = replyCode
        self.channel = channel
        self.method = method
    }

    init(_ error: AMQPError) {
        self.init(error.code, replyCode: error.replyCode?.rawValue, channel: error.channel, method: error.method)
    }

    var description: String {
        "\(code)" + (replyCode.map { " \($0)" } ?? "") + (channel.map { " ch\($0)" } ?? "")
            + (method.map { " \($0)" } ?? "")
    }
}

/// ``ConnectionAction`` as an Equatable value.
enum RecordedAction: Equatable, CustomStringConvertible {
    enum Reply: Equatable {
        case method(AMQPMethod)
        case message(ContentAssembler.Message)
    }

    case protocolHeader
    case send(channel: UInt16, AMQPMethod)
    case heartbeat
    case handshakeCompleted(TuneParameters, serverProperties: FieldTable)
    case blocked(String)
    case unblocked
    case closeConnection(ErrorShape?)
    case succeed(RequestID, Reply)
    case fail(RequestID, ErrorShape)
    case channelClosed(UInt16, ErrorShape?)
    case channelLost(UInt16, ErrorShape)
    case deliver(UInt16, ContentAssembler.Message)
    case returned(UInt16, ContentAssembler.Message)
    case confirm(UInt16, tag: UInt64, multiple: Bool, ack: Bool)
    case consumerCancelled(UInt16, String)
    case flow(UInt16, Bool)

    init(_ action: ConnectionAction) {
        switch action {
        case .sendProtocolHeader: self = .protocolHeader
        case .sendMethod(let channel, let method): self = .send(channel: channel, method)
        case .sendHeartbeat: self = .heartbeat
        case .handshakeCompleted(let tune, let properties):
            self = .handshakeCompleted(tune, serverProperties: properties)
        case .blocked(let reason): self = .blocked(reason)
        case .unblocked: self = .unblocked
        case .closeConnection(let error): self = .closeConnection(error.map(ErrorShape.init))
        case .succeed(let request, .method(let method)): self = .succeed(request, .method(method))
        case .succeed(let request, .message(let message)): self = .succeed(request, .message(message))
        case .fail(let request, let error): self = .fail(request, ErrorShape(error))
        case .channelClosed(let channel, let error): self = .channelClosed(channel, error.map(ErrorShape.init))
        case .channelLost(let channel, let error): self = .channelLost(channel, ErrorShape(error))
        case .deliver(let channel, let message): self = .deliver(channel, message)
        case .returned(let channel, let message): self = .returned(channel, message)
        case .confirm(let channel, let tag, let multiple, let ack):
            self = .confirm(channel, tag: tag, multiple: multiple, ack: ack)
        case .consumerCancelled(let channel, let tag): self = .consumerCancelled(channel, tag)
        case .flow(let channel, let active): self = .flow(channel, active)
        }
    }

    var description: String {
        switch self {
        case .protocolHeader: "protocolHeader"
        case .send(let channel, let method): "send(ch\(channel), \(method.id))"
        case .heartbeat: "heartbeat"
        case .handshakeCompleted(let tune, _): "handshakeCompleted(\(tune))"
        case .blocked(let reason): "blocked(\(reason))"
        case .unblocked: "unblocked"
        case .closeConnection(let error): "closeConnection(\(error.map(String.init(describing:)) ?? "nil"))"
        case .succeed(let request, .method(let method)): "succeed(#\(request), \(method.id))"
        case .succeed(let request, .message(let message)): "succeed(#\(request), message \(message.body.count) B)"
        case .fail(let request, let error): "fail(#\(request), \(error))"
        case .channelClosed(let channel, let error):
            "channelClosed(ch\(channel), \(error.map(String.init(describing:)) ?? "nil"))"
        case .channelLost(let channel, let error): "channelLost(ch\(channel), \(error))"
        case .deliver(let channel, let message): "deliver(ch\(channel), \(message.body.count) B)"
        case .returned(let channel, let message): "returned(ch\(channel), \(message.body.count) B)"
        case .confirm(let channel, let tag, let multiple, let ack):
            "confirm(ch\(channel), \(tag), multiple: \(multiple), ack: \(ack))"
        case .consumerCancelled(let channel, let tag): "consumerCancelled(ch\(channel), \(tag))"
        case .flow(let channel, let active): "flow(ch\(channel), \(active))"
        }
    }
}

extension Array where Element == ConnectionAction {
    var recorded: [RecordedAction] { map(RecordedAction.init) }

    /// The error of the first `closeConnection`, when it carries one.
    var connectionCloseError: AMQPError? {
        for case .closeConnection(let error?) in self { return error }
        return nil
    }

    /// The error a request was failed with.
    func failure(of request: RequestID) -> AMQPError? {
        for case .fail(request, let error) in self { return error }
        return nil
    }

    /// The error a channel was closed with.
    func channelCloseError(_ channel: UInt16) -> AMQPError? {
        for case .channelClosed(channel, let error?) in self { return error }
        return nil
    }

    /// The methods sent, in order.
    var sentMethods: [AMQPMethod] {
        compactMap { if case .sendMethod(_, let method) = $0 { method } else { nil } }
    }
}

// MARK: Channel

/// One ``ChannelStateMachine`` and the actions of its last step.
struct ChannelDriver {
    var machine: ChannelStateMachine
    let id: UInt16

    /// A channel in the opening state; `openActions` holds what its creation emitted.
    init(id: UInt16 = 1, openRequest: RequestID = 100, maxMessageSize: Int = 1 << 20) {
        var actions: [ConnectionAction] = []
        machine = ChannelStateMachine(id: id, openRequest: openRequest, maxMessageSize: maxMessageSize, into: &actions)
        self.id = id
        openActions = actions
    }

    let openActions: [ConnectionAction]

    /// An open channel.
    static func open(id: UInt16 = 1, maxMessageSize: Int = 1 << 20) throws -> ChannelDriver {
        var driver = ChannelDriver(id: id, openRequest: 100, maxMessageSize: maxMessageSize)
        let (actions, disposition) = try driver.receive(.channel(.openOk(.init())))
        #expect(actions.recorded == [.succeed(100, .method(.channel(.openOk(.init()))))])
        #expect(disposition == .keep)
        return driver
    }

    mutating func receive(_ method: AMQPMethod) throws(AMQPError) -> (
        [ConnectionAction], ChannelStateMachine.Disposition
    ) {
        var actions: [ConnectionAction] = []
        let disposition = try machine.receive(method, into: &actions)
        return (actions, disposition)
    }

    mutating func receive(_ header: ContentHeader) throws(AMQPError) -> (
        [ConnectionAction], ChannelStateMachine.Disposition
    ) {
        var actions: [ConnectionAction] = []
        let disposition = try machine.receive(header, into: &actions)
        return (actions, disposition)
    }

    mutating func receive(body: [UInt8]) throws(AMQPError) -> ([ConnectionAction], ChannelStateMachine.Disposition) {
        var actions: [ConnectionAction] = []
        let disposition = try machine.receive(body: body[...], into: &actions)
        return (actions, disposition)
    }

    mutating func send(request: RequestID, _ method: AMQPMethod) -> [ConnectionAction] {
        var actions: [ConnectionAction] = []
        machine.send(request: request, method, into: &actions)
        return actions
    }

    mutating func close(request: RequestID?, replyCode: UInt16 = 200, replyText: String = "Goodbye")
        -> [ConnectionAction]
    {
        var actions: [ConnectionAction] = []
        machine.close(request: request, replyCode: replyCode, replyText: replyText, into: &actions)
        return actions
    }
}

/// A header frame payload for a basic message.
func messageHeader(bodySize: UInt64, properties: BasicProperties = BasicProperties()) -> ContentHeader {
    ContentHeader(bodySize: bodySize, properties: properties)
}

// MARK: Connection

/// A ``ConnectionStateMachine`` fed frames the way the shell feeds it, with a synthetic clock.
struct ConnectionDriver {
    static let defaultRequested = TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60)

    var machine: ConnectionStateMachine
    /// The synthetic clock: a fixed instant moved only by `advance`.
    private(set) var now: ContinuousClock.Instant

    static func handshake(
        username: String = "guest", password: String = "guest", mechanisms: [AuthMechanism] = [.plain, .amqplain],
        virtualHost: String = "/", clientProperties: FieldTable = ["product": .string("AMQPWire tests")],
        requested: TuneParameters = defaultRequested, maxMessageSize: Int = 1 << 20
    ) -> ConnectionStateMachine.Handshake {
        .init(
            username: username, password: password, mechanisms: mechanisms, virtualHost: virtualHost,
            clientProperties: clientProperties, requested: requested, maxMessageSize: maxMessageSize)
    }

    init(_ handshake: ConnectionStateMachine.Handshake = ConnectionDriver.handshake()) {
        now = ContinuousClock.now
        machine = ConnectionStateMachine(handshake: handshake, now: now)
    }

    mutating func advance(by duration: Duration) { now = now + duration }

    mutating func step(_ body: (inout ConnectionStateMachine, inout [ConnectionAction]) -> Void) -> [ConnectionAction] {
        var actions: [ConnectionAction] = []
        body(&machine, &actions)
        return actions
    }

    mutating func start() -> [ConnectionAction] { step { $0.start(into: &$1) } }

    /// A frame arrives: the shell records the read, then hands the frame over.
    mutating func receive(_ frame: AMQPFrame) -> [ConnectionAction] {
        let now = self.now
        return step { machine, actions in
            machine.bytesRead(now: now)
            machine.receive(frame, into: &actions)
        }
    }

    mutating func receive(channel: UInt16 = 0, _ method: AMQPMethod) -> [ConnectionAction] {
        receive(.method(channel: channel, method))
    }

    mutating func tick() -> [ConnectionAction] {
        let now = self.now
        return step { $0.tick(now: now, into: &$1) }
    }

    static func start(
        mechanisms: String = "PLAIN AMQPLAIN", serverProperties: FieldTable = ["product": .string("RabbitMQ")]
    )
        -> AMQPMethod
    {
        .connection(
            .start(
                .init(
                    versionMajor: 0, versionMinor: 9, serverProperties: serverProperties,
                    mechanisms: Array(mechanisms.utf8), locales: Array("en_US".utf8))))
    }

    static func tune(channelMax: UInt16 = 2047, frameMax: UInt32 = 131_072, heartbeat: UInt16 = 60) -> AMQPMethod {
        .connection(.tune(.init(channelMax: channelMax, frameMax: frameMax, heartbeat: heartbeat)))
    }

    /// Drives the handshake to `awaitingTune` (start received, start-ok sent).
    mutating func startAndAuthenticate() {
        _ = start()
        _ = receive(Self.start())
    }

    /// Drives the whole handshake; the connection is open afterwards.
    static func opened(
        _ handshake: ConnectionStateMachine.Handshake = ConnectionDriver.handshake(),
        tune: AMQPMethod = ConnectionDriver.tune()
    ) -> ConnectionDriver {
        var driver = ConnectionDriver(handshake)
        driver.startAndAuthenticate()
        _ = driver.receive(tune)
        let completed = driver.receive(.connection(.openOk(.init())))
        #expect(driver.machine.isOpen, "the handshake did not complete: \(completed.recorded)")
        return driver
    }

    /// Opens a channel and answers its channel.open with open-ok; returns its id.
    mutating func openChannel(request: RequestID) throws -> UInt16 {
        var actions: [ConnectionAction] = []
        let id = try #require(machine.openChannel(request: request, into: &actions))
        #expect(actions.recorded == [.send(channel: id, .channel(.open(.init())))])
        let opened = receive(channel: id, .channel(.openOk(.init())))
        #expect(opened.recorded == [.succeed(request, .method(.channel(.openOk(.init()))))])
        return id
    }

    /// Sends a synchronous request on an open channel.
    mutating func request(_ request: RequestID, on channel: UInt16, _ method: AMQPMethod) throws -> [ConnectionAction] {
        var actions: [ConnectionAction] = []
        try machine.withChannel(channel, into: &actions) { (ch, actions) throws(AMQPError) in
            ch.send(request: request, method, into: &actions)
        }
        return actions
    }
}

// MARK: Randomness

/// A tiny deterministic generator (xorshift64*), so randomized tests replay exactly.
struct Xorshift: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed == 0 ? 0x9E37_79B9_7F4A_7C15 : seed }

    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
