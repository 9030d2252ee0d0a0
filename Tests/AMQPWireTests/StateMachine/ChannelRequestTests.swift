import Testing

@testable import AMQPWire

/// Synchronous requests on an open channel and the replies that answer them.
@Suite struct ChannelRequestTests {
    static let declare = AMQPMethod.queue(.declare(.init(queue: "q")))
    static let bind = AMQPMethod.queue(.bind(.init(queue: "q", exchange: "x", routingKey: "k")))
    static let qos = AMQPMethod.basic(.qos(.init(prefetchCount: 1)))

    @Test func requestIsSentOnTheChannel() throws {
        var channel = try ChannelDriver.open(id: 4)
        #expect(channel.send(request: 1, Self.declare).recorded == [.send(channel: 4, Self.declare)])
    }

    @Test func repliesAreMatchedToRequestsInOrder() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.send(request: 1, Self.declare)
        _ = channel.send(request: 2, Self.bind)
        _ = channel.send(request: 3, Self.qos)

        let declareOk = AMQPMethod.queue(.declareOk(.init(queue: "q", messageCount: 5, consumerCount: 1)))
        let bindOk = AMQPMethod.queue(.bindOk(.init()))
        let qosOk = AMQPMethod.basic(.qosOk(.init()))
        #expect(try channel.receive(declareOk).0.recorded == [.succeed(1, .method(declareOk))])
        #expect(try channel.receive(bindOk).0.recorded == [.succeed(2, .method(bindOk))])
        #expect(try channel.receive(qosOk).0.recorded == [.succeed(3, .method(qosOk))])
    }

    @Test func replyThatDoesNotAnswerTheOldestRequestIsAProtocolError() throws {
        var channel = try ChannelDriver.open(id: 2)
        _ = channel.send(request: 1, Self.declare)
        _ = channel.send(request: 2, Self.bind)
        let error = #expect(throws: AMQPError.self) { try channel.receive(.queue(.bindOk(.init()))) }
        #expect(error?.code == .protocolError)
        #expect(error?.replyCode?.rawValue == 505)
        #expect(error?.channel == 2)
        #expect(error?.message.contains("queue.bind-ok") == true)
        #expect(error?.message.contains("queue.declare") == true)
    }

    @Test func replyWithNothingPendingIsAProtocolError() throws {
        var channel = try ChannelDriver.open(id: 2)
        let error = #expect(throws: AMQPError.self) { try channel.receive(.basic(.qosOk(.init()))) }
        #expect(error?.replyCode == .unexpectedFrame)
    }

    @Test func methodsWithoutReplyAreSentAsTheyAre() throws {
        var channel = try ChannelDriver.open(id: 3)
        var actions: [ConnectionAction] = []
        try channel.machine.send(.basic(.ack(.init(deliveryTag: 9, multiple: true))), into: &actions)
        try channel.machine.send(.basic(.cancel(.init(consumerTag: "c", noWait: true))), into: &actions)
        #expect(
            actions.recorded == [
                .send(channel: 3, .basic(.ack(.init(deliveryTag: 9, multiple: true)))),
                .send(channel: 3, .basic(.cancel(.init(consumerTag: "c", noWait: true)))),
            ])
        // No-reply methods wait for nothing: a reply now answers no request.
        #expect(throws: AMQPError.self) { try channel.receive(.basic(.cancelOk(.init(consumerTag: "c")))) }
    }

    @Test func getEmptyAnswersBasicGet() throws {
        var channel = try ChannelDriver.open(id: 1)
        let get = AMQPMethod.basic(.get(.init(queue: "q")))
        #expect(channel.send(request: 4, get).recorded == [.send(channel: 1, get)])
        let empty = AMQPMethod.basic(.getEmpty(.init()))
        #expect(try channel.receive(empty).0.recorded == [.succeed(4, .method(empty))])
    }

    @Test func confirmSelectAndConsumeGetTheirReplies() throws {
        var channel = try ChannelDriver.open(id: 1)
        _ = channel.send(request: 1, .confirm(.select(.init())))
        _ = channel.send(request: 2, .basic(.consume(.init(queue: "q"))))
        let selectOk = AMQPMethod.confirm(.selectOk(.init()))
        let consumeOk = AMQPMethod.basic(.consumeOk(.init(consumerTag: "amq.ctag-1")))
        #expect(try channel.receive(selectOk).0.recorded == [.succeed(1, .method(selectOk))])
        #expect(try channel.receive(consumeOk).0.recorded == [.succeed(2, .method(consumeOk))])
    }
}
