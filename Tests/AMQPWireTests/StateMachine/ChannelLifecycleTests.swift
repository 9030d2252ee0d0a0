import Testing

@testable import AMQPWire

/// Opening and closing a channel, from either side.
@Suite struct ChannelLifecycleTests {
    static let declare = AMQPMethod.queue(.declare(.init(queue: "q")))
    static let qos = AMQPMethod.basic(.qos(.init(prefetchCount: 10)))
    static let closeOk = AMQPMethod.channel(.closeOk(.init()))

    @Test func openSendsChannelOpenAndOpenOkSucceedsTheRequest() throws {
        var channel = ChannelDriver(id: 5, openRequest: 9)
        #expect(channel.openActions.recorded == [.send(channel: 5, .channel(.open(.init())))])
        #expect(channel.machine.state == .opening(9))
        #expect(!channel.machine.isOpen)
        let (actions, disposition) = try channel.receive(.channel(.openOk(.init())))
        #expect(actions.recorded == [.succeed(9, .method(.channel(.openOk(.init()))))])
        #expect(disposition == .keep)
        #expect(channel.machine.isOpen)
    }

    @Test func brokerCloseWhileOpeningFailsTheOpenAndReleasesTheID() throws {
        var channel = ChannelDriver(id: 2, openRequest: 9)
        let close = AMQPMethod.channel(
            .close(.init(replyCode: 530, replyText: "NOT_ALLOWED", classID: 20, methodID: 10)))
        let (actions, disposition) = try channel.receive(close)
        #expect(
            actions.recorded == [
                .send(channel: 2, Self.closeOk),
                .fail(9, ErrorShape(.channelClosedByBroker, replyCode: 530, channel: 2, method: .channelOpen)),
            ])
        #expect(disposition == .release)
    }

    @Test func anyOtherMethodWhileOpeningIsUnexpected() {
        var channel = ChannelDriver(id: 2)
        let error = #expect(throws: AMQPError.self) { try channel.receive(.basic(.qosOk(.init()))) }
        #expect(error?.code == .protocolError)
        #expect(error?.replyCode == .unexpectedFrame)
        #expect(error?.channel == 2)
    }

    @Test func applicationCloseFailsPendingSendsCloseAndFinishesOnCloseOk() throws {
        var channel = try ChannelDriver.open(id: 3)
        _ = channel.send(request: 1, Self.declare)
        _ = channel.send(request: 2, Self.qos)

        let closing = channel.close(request: 3)
        let closed = ErrorShape(.channelClosed, channel: 3)
        #expect(
            closing.recorded == [
                .fail(1, closed), .fail(2, closed),
                .send(channel: 3, .channel(.close(.init(replyCode: 200, replyText: "Goodbye")))),
            ])
        #expect(channel.machine.state == .closing(3))

        // Whatever the broker sent before it saw our close is discarded.
        let deliver = AMQPMethod.basic(.deliver(.init(consumerTag: "c", deliveryTag: 1)))
        for method in [AMQPMethod.queue(.declareOk(.init(queue: "q"))), deliver] {
            let (actions, disposition) = try channel.receive(method)
            #expect(actions.isEmpty)
            #expect(disposition == .keep)
        }
        #expect(try channel.receive(messageHeader(bodySize: 3)).0.isEmpty)
        #expect(try channel.receive(body: [1, 2, 3]).0.isEmpty)

        let (actions, disposition) = try channel.receive(Self.closeOk)
        #expect(actions.recorded == [.succeed(3, .method(Self.closeOk)), .channelClosed(3, nil)])
        #expect(disposition == .release)
    }

    @Test func closeCarriesTheGivenReplyCodeAndText() throws {
        var channel = try ChannelDriver.open()
        let actions = channel.close(request: nil, replyCode: 320, replyText: "bye now")
        #expect(actions.sentMethods == [.channel(.close(.init(replyCode: 320, replyText: "bye now")))])
    }

    @Test func closeWhileOpeningFailsTheOpenRequest() throws {
        var channel = ChannelDriver(id: 4, openRequest: 9)
        let actions = channel.close(request: 10)
        #expect(
            actions.recorded == [
                .fail(9, ErrorShape(.channelClosed, channel: 4)),
                .send(channel: 4, .channel(.close(.init(replyCode: 200, replyText: "Goodbye")))),
            ])
        // A late open-ok is discarded; close-ok completes the close.
        #expect(try channel.receive(.channel(.openOk(.init()))).0.isEmpty)
        #expect(
            try channel.receive(Self.closeOk).0.recorded == [
                .succeed(10, .method(Self.closeOk)), .channelClosed(4, nil),
            ])
    }

    @Test func secondCloseSendsNothingAndEndsWithTheFirst() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.close(request: 1)
        #expect(channel.close(request: 2).isEmpty)
        #expect(channel.close(request: nil).isEmpty)
        #expect(
            try channel.receive(Self.closeOk).0.recorded == [
                .succeed(1, .method(Self.closeOk)), .succeed(2, .method(Self.closeOk)), .channelClosed(1, nil),
            ])
    }

    @Test func brokerCloseCrossingOurCloseIsAnsweredAndCompletesTheClose() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.close(request: 7)
        let close = AMQPMethod.channel(.close(.init(replyCode: 406, replyText: "PRECONDITION_FAILED")))
        let (actions, disposition) = try channel.receive(close)
        #expect(
            actions.recorded == [.send(channel: 1, Self.closeOk), .succeed(7, .method(close)), .channelClosed(1, nil)])
        #expect(disposition == .release)
    }

    @Test func intentsOnAClosingChannelFail() throws {
        var channel = try ChannelDriver.open(id: 6)
        _ = channel.close(request: nil)
        #expect(channel.send(request: 11, Self.declare).recorded == [.fail(11, ErrorShape(.channelClosed, channel: 6))])
        var actions: [ConnectionAction] = []
        let error = #expect(throws: AMQPError.self) {
            try channel.machine.send(.basic(.ack(.init(deliveryTag: 1))), into: &actions)
        }
        #expect(error?.code == .channelClosed)
        #expect(actions.isEmpty)
    }

    @Test func intentsOnAnOpeningChannelFail() {
        var channel = ChannelDriver(id: 6)
        #expect(channel.send(request: 11, Self.declare).recorded == [.fail(11, ErrorShape(.channelClosed, channel: 6))])
    }

    struct BrokerClose: Sendable, CustomStringConvertible {
        var replyCode: UInt16
        var text: String
        var cause: AMQPMethod
        var description: String { "\(replyCode) for \(cause.id)" }
    }

    @Test(arguments: [
        BrokerClose(
            replyCode: 404, text: "NOT_FOUND - no queue 'q' in vhost '/'", cause: .queue(.declare(.init(queue: "q")))),
        BrokerClose(
            replyCode: 406, text: "PRECONDITION_FAILED - inequivalent arg 'durable'",
            cause: .queue(.declare(.init(queue: "q", durable: true)))),
        BrokerClose(replyCode: 403, text: "ACCESS_REFUSED", cause: .exchange(.declare(.init(exchange: "amq.x")))),
        BrokerClose(
            replyCode: 405, text: "RESOURCE_LOCKED", cause: .basic(.consume(.init(queue: "q", exclusive: true)))),
    ])
    func brokerCloseAnswersCloseOkAndFailsPendingWithWhatTheBrokerSaid(_ c: BrokerClose) throws {
        var channel = try ChannelDriver.open(id: 8)
        _ = channel.send(request: 1, c.cause)
        _ = channel.send(request: 2, Self.qos)
        let close = AMQPMethod.Channel.Close(
            replyCode: c.replyCode, replyText: c.text, classID: c.cause.id.classID, methodID: c.cause.id.methodID)

        let (actions, disposition) = try channel.receive(.channel(.close(close)))
        let shape = ErrorShape(.channelClosedByBroker, replyCode: c.replyCode, channel: 8, method: c.cause.id)
        #expect(
            actions.recorded == [
                .send(channel: 8, Self.closeOk), .fail(1, shape), .fail(2, shape), .channelClosed(8, shape),
            ])
        #expect(disposition == .release)

        let error = try #require(actions.failure(of: 1))
        #expect(error.replyText == c.text)
        #expect(error.message.contains(c.text))
        #expect(error.message.contains("\(c.cause.id)"))
    }

    @Test func brokerCloseWithoutACauseHasNoMethod() throws {
        var channel = try ChannelDriver.open(id: 1)
        let (actions, _) = try channel.receive(.channel(.close(.init(replyCode: 320, replyText: "CONNECTION_FORCED"))))
        let error = try #require(actions.channelCloseError(1))
        #expect(error.method == nil)
        #expect(error.replyCode == .connectionForced)
    }

    @Test func connectionLossFailsEveryWaiterAndReportsTheError() throws {
        let lost = AMQPError(.ioError, "socket closed")

        var opening = ChannelDriver(id: 1, openRequest: 9)
        var actions: [ConnectionAction] = []
        opening.machine.connectionClosed(lost, into: &actions)
        #expect(actions.recorded == [.fail(9, ErrorShape(.ioError)), .channelLost(1, ErrorShape(.ioError))])

        var open = try ChannelDriver.open(id: 2)
        _ = open.send(request: 1, Self.declare)
        actions = []
        open.machine.connectionClosed(lost, into: &actions)
        #expect(actions.recorded == [.fail(1, ErrorShape(.ioError)), .channelLost(2, ErrorShape(.ioError))])

        var closing = try ChannelDriver.open(id: 3)
        _ = closing.close(request: 5)
        actions = []
        closing.machine.connectionClosed(lost, cleanEnd: true, into: &actions)
        #expect(actions.recorded == [.fail(5, ErrorShape(.ioError)), .channelClosed(3, nil)])
    }
}
