import Testing

@testable import AMQPWire

/// An open connection: blocked/unblocked, update-secret, and closing from either side.
@Suite struct ConnectionLifecycleTests {
    static let closeOk = AMQPMethod.connection(.closeOk(.init()))
    static let declare = AMQPMethod.queue(.declare(.init(queue: "q")))

    @Test func blockedAndUnblockedAreReported() {
        var connection = ConnectionDriver.opened()
        let blocked = connection.receive(.connection(.blocked(.init(reason: "low on memory"))))
        #expect(blocked.recorded == [.blocked("low on memory")])
        #expect(connection.machine.isBlocked)
        let unblocked = connection.receive(.connection(.unblocked(.init())))
        #expect(unblocked.recorded == [.unblocked])
        #expect(!connection.machine.isBlocked)
    }

    @Test func updateSecretRoundTrip() {
        var connection = ConnectionDriver.opened()
        let sent = connection.step {
            $0.updateSecret(request: 1, newSecret: Array("token-2".utf8), reason: "refresh", into: &$1)
        }
        #expect(
            sent.recorded == [
                .send(
                    channel: 0, .connection(.updateSecret(.init(newSecret: Array("token-2".utf8), reason: "refresh"))))
            ])
        let ok = AMQPMethod.connection(.updateSecretOk(.init()))
        #expect(connection.receive(ok).recorded == [.succeed(1, .method(ok))])
    }

    @Test func updateSecretBeforeOpenFails() {
        var connection = ConnectionDriver()
        connection.startAndAuthenticate()
        let actions = connection.step { $0.updateSecret(request: 1, newSecret: [1], reason: "r", into: &$1) }
        #expect(actions.recorded == [.fail(1, ErrorShape(.connectionClosed))])
    }

    @Test func updateSecretOkWithoutARequestIsUnexpected() {
        var connection = ConnectionDriver.opened()
        let actions = connection.receive(.connection(.updateSecretOk(.init())))
        #expect(
            actions.recorded == [
                .send(
                    channel: 0,
                    .connection(.close(.init(replyCode: 505, replyText: "update-secret-ok answers no request")))),
                .closeConnection(ErrorShape(.protocolError, replyCode: 505)),
            ])
    }

    @Test func applicationCloseSendsCloseAndCloseOkFinishesCleanly() throws {
        var connection = ConnectionDriver.opened()
        let channel = try connection.openChannel(request: 10)
        _ = try connection.request(11, on: channel, Self.declare)
        _ = connection.step { $0.updateSecret(request: 12, newSecret: [1], reason: "r", into: &$1) }

        let closing = connection.step { $0.close(request: 1, into: &$1) }
        let closed = ErrorShape(.connectionClosed)
        #expect(
            closing.recorded == [
                .fail(11, closed), .channelClosed(channel, nil), .fail(12, closed),
                .send(channel: 0, .connection(.close(.init(replyCode: 200, replyText: "Goodbye")))),
            ])
        #expect(!connection.machine.isOpen)

        // A second close waits for the same close-ok; frames meanwhile are discarded.
        #expect(connection.step { $0.close(request: 2, into: &$1) }.isEmpty)
        #expect(connection.receive(channel: channel, .queue(.declareOk(.init(queue: "q")))).isEmpty)
        #expect(connection.receive(.connection(.blocked(.init(reason: "x")))).isEmpty)
        #expect(connection.receive(.header(channel: 1, messageHeader(bodySize: 1))).isEmpty)

        let done = connection.receive(Self.closeOk)
        #expect(
            done.recorded == [
                .succeed(1, .method(Self.closeOk)), .succeed(2, .method(Self.closeOk)), .closeConnection(nil),
            ])
        #expect(connection.machine.isClosed)

        // Closing a closed connection succeeds at once; intents fail.
        #expect(connection.step { $0.close(request: 3, into: &$1) }.recorded == [.succeed(3, .method(Self.closeOk))])
        var actions: [ConnectionAction] = []
        #expect(connection.machine.openChannel(request: 4, into: &actions) == nil)
        #expect(actions.recorded == [.fail(4, ErrorShape(.connectionClosed))])
    }

    /// Our close succeeds, and the broker's own reason is kept as the connection's close reason.
    @Test func brokerCloseCrossingOurCloseIsAnsweredAndKeepsTheBrokersReason() {
        var connection = ConnectionDriver.opened()
        _ = connection.step { $0.close(request: 1, into: &$1) }
        let actions = connection.receive(.connection(.close(.init(replyCode: 320, replyText: "CONNECTION_FORCED"))))
        #expect(
            actions.recorded == [
                .send(channel: 0, Self.closeOk), .succeed(1, .method(Self.closeOk)),
                .closeConnection(ErrorShape(.connectionClosedByBroker, replyCode: 320)),
            ])
    }

    @Test func brokerCloseOkAnswerToOurCloseIsAClearEnd() {
        var connection = ConnectionDriver.opened()
        _ = connection.step { $0.close(request: 1, into: &$1) }
        let actions = connection.receive(.connection(.close(.init(replyCode: 200, replyText: "OK"))))
        #expect(
            actions.recorded == [
                .send(channel: 0, Self.closeOk), .succeed(1, .method(Self.closeOk)), .closeConnection(nil),
            ])
    }

    @Test func socketClosedInsteadOfCloseOkStillFinishesTheClose() {
        var connection = ConnectionDriver.opened()
        _ = connection.step { $0.close(request: 1, into: &$1) }
        let actions = connection.step { $0.transportFailed(AMQPError(.ioError, "EOF"), into: &$1) }
        #expect(actions.recorded == [.succeed(1, .method(Self.closeOk)), .closeConnection(nil)])
        #expect(connection.machine.isClosed)
        #expect(connection.step { $0.transportFailed(AMQPError(.ioError, "again"), into: &$1) }.isEmpty)
    }

    @Test func brokerCloseWhileOpenIsAnsweredAndFailsEverything() throws {
        var connection = ConnectionDriver.opened()
        let first = try connection.openChannel(request: 1)
        let second = try connection.openChannel(request: 2)
        _ = try connection.request(3, on: first, Self.declare)
        _ = try connection.request(4, on: second, .basic(.qos(.init())))
        _ = connection.step { $0.updateSecret(request: 5, newSecret: [1], reason: "r", into: &$1) }

        let close = AMQPMethod.connection(
            .close(
                .init(
                    replyCode: 320, replyText: "CONNECTION_FORCED - broker forced connection closure", classID: 0,
                    methodID: 0)))
        let actions = connection.receive(close)
        let error = ErrorShape(.connectionClosedByBroker, replyCode: 320)
        #expect(
            actions.recorded == [
                .send(channel: 0, Self.closeOk),
                .fail(3, error), .channelLost(first, error),
                .fail(4, error), .channelLost(second, error),
                .fail(5, error),
                .closeConnection(error),
            ])
        let full = try #require(actions.connectionCloseError)
        #expect(full.replyText == "CONNECTION_FORCED - broker forced connection closure")
        #expect(full.method == nil)
        #expect(connection.machine.isClosed)
    }

    @Test func brokerCloseNamingAMethodCarriesIt() throws {
        var connection = ConnectionDriver.opened()
        let close = AMQPMethod.connection(
            .close(
                .init(replyCode: 504, replyText: "CHANNEL_ERROR - expected 'channel.open'", classID: 60, methodID: 40)))
        let error = try #require(connection.receive(close).connectionCloseError)
        #expect(error.code == .connectionClosedByBroker)
        #expect(error.replyCode == .channelError)
        #expect(error.method == .basicPublish)
        #expect(error.message.contains("basic.publish"))
        #expect(error.message.contains("CHANNEL_ERROR"))
    }

    @Test func heartbeatFramesAreAcceptedSilently() {
        var connection = ConnectionDriver.opened()
        #expect(connection.receive(.heartbeat).isEmpty)
        #expect(connection.machine.isOpen)
    }
}
