import Testing

@testable import AMQPWire

/// Messages arriving on a channel: deliveries, returns and basic.get, in one or many frames.
@Suite struct ChannelContentTests {
    static let deliver = AMQPMethod.Basic.Deliver(
        consumerTag: "ctag", deliveryTag: 3, redelivered: true, exchange: "ex", routingKey: "rk")
    static let properties = BasicProperties(contentType: "application/json", deliveryMode: 2)

    @Test func deliveryWithEmptyBodyCompletesAtTheHeader() throws {
        var channel = try ChannelDriver.open(id: 1)
        #expect(try channel.receive(.basic(.deliver(Self.deliver))).0.isEmpty)
        let (actions, disposition) = try channel.receive(messageHeader(bodySize: 0, properties: Self.properties))
        #expect(
            actions.recorded == [
                .deliver(1, .init(method: .deliver(Self.deliver), properties: Self.properties, body: []))
            ])
        #expect(disposition == .keep)
        // The next delivery starts cleanly: no body frame was expected.
        #expect(try channel.receive(.basic(.deliver(Self.deliver))).0.isEmpty)
    }

    @Test func deliveryBodyInSeveralFramesIsJoined() throws {
        var channel = try ChannelDriver.open(id: 2)
        _ = try channel.receive(.basic(.deliver(Self.deliver)))
        #expect(try channel.receive(messageHeader(bodySize: 6, properties: Self.properties)).0.isEmpty)
        #expect(try channel.receive(body: [1, 2]).0.isEmpty)
        #expect(try channel.receive(body: [3]).0.isEmpty)
        let (actions, _) = try channel.receive(body: [4, 5, 6])
        #expect(
            actions.recorded == [
                .deliver(
                    2, .init(method: .deliver(Self.deliver), properties: Self.properties, body: [1, 2, 3, 4, 5, 6]))
            ])
    }

    @Test func returnedMessageIsReported() throws {
        var channel = try ChannelDriver.open(id: 1)
        let returned = AMQPMethod.Basic.Return(
            replyCode: 312, replyText: "NO_ROUTE", exchange: "ex", routingKey: "nowhere")
        _ = try channel.receive(.basic(.return(returned)))
        _ = try channel.receive(messageHeader(bodySize: 2))
        let (actions, _) = try channel.receive(body: [0xAB, 0xCD])
        #expect(
            actions.recorded == [
                .returned(1, .init(method: .return(returned), properties: .init(), body: [0xAB, 0xCD]))
            ])
    }

    @Test func basicGetSucceedsWithTheWholeMessage() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.send(request: 7, .basic(.get(.init(queue: "q"))))
        let getOk = AMQPMethod.Basic.GetOk(deliveryTag: 1, exchange: "", routingKey: "q", messageCount: 4)
        #expect(try channel.receive(.basic(.getOk(getOk))).0.isEmpty)
        #expect(try channel.receive(messageHeader(bodySize: 4, properties: Self.properties)).0.isEmpty)
        #expect(try channel.receive(body: [1, 2]).0.isEmpty)
        let (actions, _) = try channel.receive(body: [3, 4])
        #expect(
            actions.recorded == [
                .succeed(7, .message(.init(method: .getOk(getOk), properties: Self.properties, body: [1, 2, 3, 4])))
            ])
    }

    @Test func basicGetWithEmptyBodySucceedsAtTheHeader() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.send(request: 7, .basic(.get(.init(queue: "q"))))
        let getOk = AMQPMethod.Basic.GetOk(deliveryTag: 1, routingKey: "q")
        _ = try channel.receive(.basic(.getOk(getOk)))
        #expect(
            try channel.receive(messageHeader(bodySize: 0)).0.recorded == [
                .succeed(7, .message(.init(method: .getOk(getOk), properties: .init(), body: [])))
            ])
    }

    @Test func getOkWithoutBasicGetIsAProtocolError() throws {
        var channel = try ChannelDriver.open(id: 1)
        let error = #expect(throws: AMQPError.self) { try channel.receive(.basic(.getOk(.init(deliveryTag: 1)))) }
        #expect(error?.replyCode == .unexpectedFrame)
    }

    @Test func repliesAfterAGetKeepTheirOrder() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.send(request: 1, .basic(.get(.init(queue: "q"))))
        _ = channel.send(request: 2, .basic(.qos(.init(prefetchCount: 1))))
        _ = try channel.receive(.basic(.getOk(.init(deliveryTag: 1))))
        _ = try channel.receive(messageHeader(bodySize: 1))
        #expect(try channel.receive(body: [1]).0.count == 1)
        #expect(
            try channel.receive(.basic(.qosOk(.init()))).0.recorded == [.succeed(2, .method(.basic(.qosOk(.init()))))])
    }

    @Test func headerWithoutAMethodIsAProtocolError() throws {
        var channel = try ChannelDriver.open(id: 1)
        let error = #expect(throws: AMQPError.self) { try channel.receive(messageHeader(bodySize: 1)) }
        #expect(error?.code == .protocolError)
        #expect(error?.replyCode == .unexpectedFrame)
    }

    @Test func bodyWithoutAHeaderIsAProtocolError() throws {
        var channel = try ChannelDriver.open(id: 1)
        #expect(throws: AMQPError.self) { try channel.receive(body: [1]) }
        _ = try channel.receive(.basic(.deliver(Self.deliver)))
        let error = #expect(throws: AMQPError.self) { try channel.receive(body: [1]) }
        #expect(error?.replyCode == .unexpectedFrame)
    }

    @Test func bodyLongerThanItsHeaderIsAProtocolError() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = try channel.receive(.basic(.deliver(Self.deliver)))
        _ = try channel.receive(messageHeader(bodySize: 2))
        let error = #expect(throws: AMQPError.self) { try channel.receive(body: [1, 2, 3]) }
        #expect(error?.replyCode == .unexpectedFrame)
        #expect(error?.channel == 1)
    }

    @Test func deliveryBeforeThePreviousContentEndedIsAProtocolError() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = try channel.receive(.basic(.deliver(Self.deliver)))
        let error = #expect(throws: AMQPError.self) { try channel.receive(.basic(.deliver(Self.deliver))) }
        #expect(error?.replyCode == .unexpectedFrame)
    }

    @Test func headerOverTheMaximumClosesTheChannelAndIgnoresTheBody() throws {
        var channel = try ChannelDriver.open(id: 3, maxMessageSize: 10)
        _ = channel.send(request: 1, .queue(.declare(.init(queue: "q"))))
        _ = try channel.receive(.basic(.deliver(Self.deliver)))

        let (actions, disposition) = try channel.receive(messageHeader(bodySize: 11))
        let tooLarge = ErrorShape(.messageTooLarge, channel: 3)
        #expect(
            actions.recorded == [
                .fail(1, tooLarge),
                .send(channel: 3, .channel(.close(.init(replyCode: 311, replyText: "message too large")))),
                .channelClosed(3, tooLarge),
            ])
        #expect(disposition == .keep)
        let error = try #require(actions.channelCloseError(3))
        #expect(error.message.contains("11 bytes"))
        #expect(error.message.contains("maxMessageSize"))

        // The announced body still arrives; it is dropped, as is anything but close-ok.
        #expect(try channel.receive(body: Array(repeating: 0, count: 11)).0.isEmpty)
        #expect(try channel.receive(.basic(.deliver(Self.deliver))).0.isEmpty)
        #expect(
            channel.send(request: 2, .basic(.qos(.init()))).recorded == [
                .fail(2, ErrorShape(.channelClosed, channel: 3))
            ])
        let closeOk = try channel.receive(.channel(.closeOk(.init())))
        // Reported closed once more: harmless for the shell, which frees what is left of the channel.
        guard closeOk.0.count == 1, case .channelClosed(3, nil) = closeOk.0[0] else {
            Issue.record("expected one channelClosed(3, nil), got \(closeOk.0)")
            return
        }
        #expect(closeOk.1 == .release)
    }

    @Test func basicGetOverTheMaximumFailsTheGet() throws {
        var channel = try ChannelDriver.open(id: 1, maxMessageSize: 100)
        _ = channel.send(request: 5, .basic(.get(.init(queue: "q"))))
        _ = try channel.receive(.basic(.getOk(.init(deliveryTag: 1))))
        let (actions, _) = try channel.receive(messageHeader(bodySize: 101))
        #expect(actions.failure(of: 5)?.code == .messageTooLarge)
        #expect(actions.sentMethods == [.channel(.close(.init(replyCode: 311, replyText: "message too large")))])
    }
}
