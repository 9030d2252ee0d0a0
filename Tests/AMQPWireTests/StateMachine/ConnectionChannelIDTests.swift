import Testing

@testable import AMQPWire

/// Channel ids: handed out round robin up to the negotiated channel_max, reused once released.
@Suite struct ConnectionChannelIDTests {
    /// Closes a channel from the application side and answers with close-ok.
    func closeChannel(_ id: UInt16, in connection: inout ConnectionDriver, request: RequestID) throws {
        var closing: [ConnectionAction] = []
        try connection.machine.withChannel(id, into: &closing) { (channel, actions) throws(AMQPError) in
            channel.close(request: request, into: &actions)
        }
        #expect(closing.sentMethods == [.channel(.close(.init(replyCode: 200, replyText: "Goodbye")))])
        let closed = connection.receive(channel: id, .channel(.closeOk(.init())))
        #expect(closed.recorded == [.succeed(request, .method(.channel(.closeOk(.init())))), .channelClosed(id, nil)])
    }

    func opened(channelMax: UInt16) -> ConnectionDriver {
        ConnectionDriver.opened(tune: ConnectionDriver.tune(channelMax: channelMax))
    }

    @Test func idsAreHandedOutRoundRobinAndNotReusedAtOnce() throws {
        var connection = opened(channelMax: 100)
        #expect(try connection.openChannel(request: 1) == 1)
        #expect(try connection.openChannel(request: 2) == 2)
        #expect(try connection.openChannel(request: 3) == 3)
        try closeChannel(1, in: &connection, request: 4)
        #expect(connection.machine.channel(1) == nil)
        #expect(try connection.openChannel(request: 5) == 4, "a just-released id is not handed out next")
    }

    @Test func releasedIdsAreReusedAfterWrappingAround() throws {
        var connection = opened(channelMax: 3)
        for request in RequestID(1)...3 { _ = try connection.openChannel(request: request) }
        try closeChannel(2, in: &connection, request: 10)
        #expect(try connection.openChannel(request: 11) == 2)
    }

    @Test func brokerClosedChannelIdIsReleased() throws {
        var connection = opened(channelMax: 1)
        let id = try connection.openChannel(request: 1)
        let actions = connection.receive(channel: id, .channel(.close(.init(replyCode: 404, replyText: "NOT_FOUND"))))
        #expect(actions.recorded.first == .send(channel: id, .channel(.closeOk(.init()))))
        #expect(connection.machine.channel(id) == nil)
        #expect(try connection.openChannel(request: 2) == id)
    }

    @Test func channelMaxIsEnforced() throws {
        var connection = opened(channelMax: 2)
        _ = try connection.openChannel(request: 1)
        _ = try connection.openChannel(request: 2)
        var actions: [ConnectionAction] = []
        #expect(connection.machine.openChannel(request: 3, into: &actions) == nil)
        #expect(actions.recorded == [.fail(3, ErrorShape(.channelLimitReached))])
        #expect(actions.failure(of: 3)?.message.contains("channel_max") == true)
    }

    @Test func channelsStillClosingCountAgainstTheLimit() throws {
        var connection = opened(channelMax: 1)
        let id = try connection.openChannel(request: 1)
        var actions: [ConnectionAction] = []
        try connection.machine.withChannel(id, into: &actions) { (channel, actions) throws(AMQPError) in
            channel.close(request: nil, into: &actions)
        }
        actions = []
        #expect(connection.machine.openChannel(request: 2, into: &actions) == nil)
        #expect(actions.failure(of: 2)?.code == .channelLimitReached)
    }

    @Test func negotiatedZeroChannelMaxMeansAllIds() throws {
        let handshake = ConnectionDriver.handshake(requested: .init(channelMax: 0, frameMax: 131_072, heartbeat: 0))
        let connection = ConnectionDriver.opened(handshake, tune: ConnectionDriver.tune(channelMax: 0))
        #expect(connection.machine.tuneParameters?.channelMax == 65535)
    }

    @Test func openChannelBeforeTheConnectionIsOpenFails() {
        var connection = ConnectionDriver()
        connection.startAndAuthenticate()
        var actions: [ConnectionAction] = []
        #expect(connection.machine.openChannel(request: 1, into: &actions) == nil)
        #expect(actions.recorded == [.fail(1, ErrorShape(.connectionClosed))])
    }

    @Test func intentOnAChannelThatIsNotOpenThrows() throws {
        var connection = ConnectionDriver.opened()
        var actions: [ConnectionAction] = []
        let error = #expect(throws: AMQPError.self) {
            try connection.machine.withChannel(7, into: &actions) { (_, _) throws(AMQPError) in }
        }
        #expect(error?.code == .channelClosed)
        #expect(error?.channel == 7)
    }
}
