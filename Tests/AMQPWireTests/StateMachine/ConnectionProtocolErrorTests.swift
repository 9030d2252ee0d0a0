import Testing

@testable import AMQPWire

/// Frames that break the protocol close the connection with the spec's reply code.
@Suite struct ConnectionProtocolErrorTests {
    /// The close the client sends for a violation, and the error it reports.
    func expectViolation(
        _ actions: [ConnectionAction], replyCode: UInt16, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        guard case .closeConnection(let error?)? = actions.last else {
            Issue.record(
                "the connection was not closed with an error: \(actions.recorded)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.code == .protocolError, sourceLocation: sourceLocation)
        #expect(error.replyCode?.rawValue == replyCode, sourceLocation: sourceLocation)
        let sent = actions.sentMethods.last
        guard case .connection(.close(let close))? = sent else {
            Issue.record("no connection.close sent: \(actions.recorded)", sourceLocation: sourceLocation)
            return
        }
        #expect(close.replyCode == replyCode, sourceLocation: sourceLocation)
        #expect(!close.replyText.isEmpty, sourceLocation: sourceLocation)
    }

    @Test(arguments: [
        (AMQPCodecError.Code.badFrameEnd, UInt16(501)),
        (.unknownFrameType, 501),
        (.frameTooLarge, 501),
        (.truncated, 502),
        (.trailingBytes, 502),
        (.unknownFieldType, 502),
        (.invalidValue, 502),
        (.unknownMethod, 540),
    ])
    func decodingErrorClosesWithTheCodecReplyCode(code: AMQPCodecError.Code, replyCode: UInt16) throws {
        var connection = ConnectionDriver.opened()
        let channel = try connection.openChannel(request: 1)
        _ = try connection.request(2, on: channel, .basic(.qos(.init())))
        let actions = connection.step { $0.decodingFailed(AMQPCodecError(code, "bad bytes at offset 7"), into: &$1) }
        expectViolation(actions, replyCode: replyCode)
        #expect(actions.failure(of: 2)?.code == .protocolError)
        #expect(actions.connectionCloseError?.message.contains("bad bytes at offset 7") == true)
        #expect(actions.connectionCloseError?.underlying is AMQPCodecError)
        #expect(connection.machine.isClosed)
    }

    @Test func decodingErrorDuringTheHandshakeDropsWithoutClose() {
        var connection = ConnectionDriver()
        connection.startAndAuthenticate()
        let actions = connection.step { $0.decodingFailed(AMQPCodecError(.badFrameEnd, "no 0xCE"), into: &$1) }
        #expect(actions.recorded == [.closeConnection(ErrorShape(.protocolError, replyCode: 501))])
    }

    @Test func protocolHeaderFromTheBrokerIsAVersionMismatch() {
        var connection = ConnectionDriver()
        _ = connection.start()
        let mismatch = AMQPCodecError(.protocolVersionMismatch, "the broker answered with AMQP 1.0.0")
        let actions = connection.step { $0.decodingFailed(mismatch, into: &$1) }
        #expect(actions.recorded == [.closeConnection(ErrorShape(.protocolError))])
        #expect(actions.connectionCloseError?.message.contains("1.0.0") == true)
    }

    @Test func connectionMethodOnAChannelIsCommandInvalid() throws {
        var connection = ConnectionDriver.opened()
        _ = try connection.openChannel(request: 1)
        _ = try connection.openChannel(request: 2)
        let channel = try connection.openChannel(request: 3)
        #expect(channel == 3)
        let actions = connection.receive(channel: 3, .connection(.blocked(.init(reason: "x"))))
        expectViolation(actions, replyCode: 503)
        #expect(actions.connectionCloseError?.message.contains("channel 3") == true)
    }

    @Test func channelLevelMethodOnChannelZeroIsCommandInvalid() {
        var connection = ConnectionDriver.opened()
        let actions = connection.receive(channel: 0, .basic(.deliver(.init(consumerTag: "c", deliveryTag: 1))))
        expectViolation(actions, replyCode: 503)
        #expect(actions.connectionCloseError?.message.contains("basic.deliver") == true)
    }

    @Test(arguments: [
        AMQPFrame.method(channel: 9, .basic(.deliver(.init(consumerTag: "c", deliveryTag: 1)))),
        .header(channel: 9, ContentHeader(bodySize: 1, properties: .init())),
        .body(channel: 9, [1]),
    ])
    func frameForAChannelThatIsNotOpenIsAChannelError(frame: AMQPFrame) throws {
        var connection = ConnectionDriver.opened()
        _ = try connection.openChannel(request: 1)
        let actions = connection.receive(frame)
        expectViolation(actions, replyCode: 504)
        #expect(actions.connectionCloseError?.message.contains("channel 9") == true)
    }

    @Test func channelFrameBeforeTheConnectionIsOpenIsUnexpected() {
        var connection = ConnectionDriver()
        connection.startAndAuthenticate()
        let actions = connection.receive(channel: 1, .channel(.openOk(.init())))
        #expect(actions.recorded == [.closeConnection(ErrorShape(.protocolError, replyCode: 505))])
    }

    @Test func handshakeMethodOnAnOpenConnectionIsUnexpected() {
        var connection = ConnectionDriver.opened()
        expectViolation(connection.receive(ConnectionDriver.tune()), replyCode: 505)
    }

    @Test func violationOnOneChannelClosesTheConnectionAndFailsEveryChannel() throws {
        var connection = ConnectionDriver.opened()
        let first = try connection.openChannel(request: 1)
        let second = try connection.openChannel(request: 2)
        _ = try connection.request(3, on: first, .queue(.declare(.init(queue: "q"))))
        _ = try connection.request(4, on: second, .basic(.qos(.init())))
        // queue.bind-ok does not answer queue.declare.
        let actions = connection.receive(channel: first, .queue(.bindOk(.init())))
        expectViolation(actions, replyCode: 505)
        let error = ErrorShape(.protocolError, replyCode: 505, channel: first)
        #expect(actions.recorded.contains(.fail(3, error)))
        #expect(actions.recorded.contains(.fail(4, error)))
        #expect(actions.recorded.contains(.channelLost(first, error)))
        #expect(actions.recorded.contains(.channelLost(second, error)))
    }

    @Test func basicGetIsFailedWhenItsGetOkBreaksTheProtocol() throws {
        // get-ok arriving while a delivery's content is still incomplete: the connection closes,
        // and the basic.get it answered must fail like every other request.
        var connection = ConnectionDriver.opened()
        let channel = try connection.openChannel(request: 1)
        _ = try connection.request(2, on: channel, .basic(.get(.init(queue: "q"))))
        _ = connection.receive(channel: channel, .basic(.deliver(.init(consumerTag: "c", deliveryTag: 1))))
        let actions = connection.receive(channel: channel, .basic(.getOk(.init(deliveryTag: 2))))
        expectViolation(actions, replyCode: 505)
        #expect(actions.failure(of: 2)?.code == .protocolError)
    }

    @Test func framesAfterTheConnectionClosedAreIgnored() {
        var connection = ConnectionDriver.opened()
        _ = connection.step { $0.transportFailed(AMQPError(.ioError, "EOF"), into: &$1) }
        #expect(connection.receive(channel: 1, .channel(.openOk(.init()))).isEmpty)
        #expect(connection.receive(.connection(.openOk(.init()))).isEmpty)
        #expect(connection.step { $0.decodingFailed(AMQPCodecError(.truncated, "x"), into: &$1) }.isEmpty)
    }
}
