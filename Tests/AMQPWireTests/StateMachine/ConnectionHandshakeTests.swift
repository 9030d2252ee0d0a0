import Testing

@testable import AMQPWire

/// The handshake, driven frame by frame: header, start/start-ok, secure, tune/tune-ok, open/open-ok.
@Suite struct ConnectionHandshakeTests {
    static let serverProperties: FieldTable = ["product": .string("RabbitMQ"), "version": .string("4.1.0")]

    @Test func startSendsTheProtocolHeaderOnce() {
        var connection = ConnectionDriver()
        #expect(connection.start().recorded == [.protocolHeader])
        #expect(connection.start().isEmpty)
    }

    @Test func startOkCarriesClientPropertiesMechanismResponseAndLocale() throws {
        let properties: FieldTable = [
            "product": .string("tests"), "capabilities": .table(["publisher_confirms": .boolean(true)]),
        ]
        var connection = ConnectionDriver(
            ConnectionDriver.handshake(username: "alice", password: "s3cret", clientProperties: properties))
        _ = connection.start()
        let actions = connection.receive(ConnectionDriver.start(mechanisms: "AMQPLAIN PLAIN"))
        let expected = AMQPMethod.Connection.StartOk(
            clientProperties: properties, mechanism: "PLAIN", response: Array("\0alice\0s3cret".utf8), locale: "en_US")
        #expect(actions.recorded == [.send(channel: 0, .connection(.startOk(expected)))])
        #expect(connection.machine.serverProperties == ["product": .string("RabbitMQ")])
    }

    struct MechanismCase: Sendable, CustomStringConvertible {
        var allowed: [AuthMechanism]
        var offered: String
        var chosen: AuthMechanism?
        var description: String { "\(allowed.map(\.rawValue)) vs '\(offered)'" }
    }

    @Test(arguments: [
        MechanismCase(allowed: [.plain, .amqplain], offered: "PLAIN AMQPLAIN", chosen: .plain),
        MechanismCase(allowed: [.plain, .amqplain], offered: "AMQPLAIN PLAIN", chosen: .plain),
        MechanismCase(allowed: [.amqplain, .plain], offered: "PLAIN AMQPLAIN", chosen: .amqplain),
        MechanismCase(allowed: [.external, .plain], offered: "AMQPLAIN PLAIN", chosen: .plain),
        MechanismCase(allowed: [.external, .plain], offered: "EXTERNAL PLAIN", chosen: .external),
        MechanismCase(allowed: [.plain], offered: "RABBIT-CR-DEMO PLAIN", chosen: .plain),
        MechanismCase(allowed: [.plain], offered: "PLAINX AMQPLAIN", chosen: nil),
        MechanismCase(allowed: [.external], offered: "PLAIN AMQPLAIN", chosen: nil),
        MechanismCase(allowed: [.plain, .amqplain], offered: "", chosen: nil),
    ])
    func mechanismIsTheClientsFirstPreferenceTheBrokerOffers(_ c: MechanismCase) throws {
        var connection = ConnectionDriver(
            ConnectionDriver.handshake(username: "u", password: "p", mechanisms: c.allowed))
        _ = connection.start()
        let actions = connection.receive(ConnectionDriver.start(mechanisms: c.offered))
        if let chosen = c.chosen {
            guard case .sendMethod(0, .connection(.startOk(let startOk))) = try #require(actions.first) else {
                Issue.record("expected start-ok, got \(actions.recorded)")
                return
            }
            #expect(actions.count == 1)
            #expect(startOk.mechanism == chosen.rawValue)
            #expect(startOk.response == (try chosen.response(username: "u", password: "p")))
        } else {
            #expect(actions.recorded == [.closeConnection(ErrorShape(.noCommonAuthMechanism))])
            let error = try #require(actions.connectionCloseError)
            for name in c.allowed.map(\.rawValue) { #expect(error.message.contains(name)) }
            #expect(connection.machine.isClosed)
        }
    }

    @Test func brokerSpeakingAnotherVersionIsRefused() throws {
        var connection = ConnectionDriver()
        _ = connection.start()
        let start = AMQPMethod.connection(
            .start(.init(versionMajor: 0, versionMinor: 8, mechanisms: Array("PLAIN".utf8))))
        let actions = connection.receive(start)
        // Not open yet: no connection.close is sent, the socket is just dropped.
        #expect(actions.recorded == [.closeConnection(ErrorShape(.protocolError, replyCode: 540))])
        #expect(actions.connectionCloseError?.message.contains("0-8") == true)
    }

    @Test func secureIsAnsweredWithTheSameResponse() {
        var connection = ConnectionDriver(
            ConnectionDriver.handshake(username: "bob", password: "pw", mechanisms: [.amqplain]))
        connection.startAndAuthenticate()
        let actions = connection.receive(.connection(.secure(.init(challenge: Array("challenge".utf8)))))
        let response = try? AuthMechanism.amqplain.response(username: "bob", password: "pw")
        #expect(actions.recorded == [.send(channel: 0, .connection(.secureOk(.init(response: response ?? []))))])
        // Still waiting for tune.
        #expect(connection.receive(ConnectionDriver.tune()).sentMethods.count == 2)
    }

    @Test(arguments: [
        (
            AMQPMethod.Connection.Tune(channelMax: 2047, frameMax: 131_072, heartbeat: 60),
            TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60)
        ),
        (.init(channelMax: 0, frameMax: 0, heartbeat: 0), .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        (.init(channelMax: 64, frameMax: 4096, heartbeat: 5), .init(channelMax: 64, frameMax: 8192, heartbeat: 5)),
    ])
    func tuneIsAnsweredWithNegotiatedTuneOkThenOpen(tune: AMQPMethod.Connection.Tune, agreed: TuneParameters) {
        var connection = ConnectionDriver(ConnectionDriver.handshake(virtualHost: "orders"))
        connection.startAndAuthenticate()
        let actions = connection.receive(.connection(.tune(tune)))
        #expect(
            actions.recorded == [
                .send(
                    channel: 0,
                    .connection(
                        .tuneOk(
                            .init(channelMax: agreed.channelMax, frameMax: agreed.frameMax, heartbeat: agreed.heartbeat)
                        ))),
                .send(channel: 0, .connection(.open(.init(virtualHost: "orders")))),
            ])
        #expect(connection.machine.tuneParameters == agreed)
        #expect(!connection.machine.isOpen)
    }

    @Test func openOkCompletesTheHandshakeWithTheServerProperties() {
        var connection = ConnectionDriver()
        _ = connection.start()
        _ = connection.receive(ConnectionDriver.start(serverProperties: Self.serverProperties))
        _ = connection.receive(ConnectionDriver.tune(channelMax: 100, frameMax: 65_536, heartbeat: 30))
        let actions = connection.receive(.connection(.openOk(.init())))
        #expect(
            actions.recorded == [
                .handshakeCompleted(
                    .init(channelMax: 100, frameMax: 65_536, heartbeat: 30), serverProperties: Self.serverProperties)
            ])
        #expect(connection.machine.isOpen)
    }

    @Test func brokerClose403DuringAuthenticationIsAuthenticationFailed() throws {
        var connection = ConnectionDriver(ConnectionDriver.handshake(username: "mallory", password: "wrong"))
        connection.startAndAuthenticate()
        let close = AMQPMethod.connection(
            .close(
                .init(
                    replyCode: 403, replyText: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN"
                )))
        let actions = connection.receive(close)
        #expect(
            actions.recorded == [
                .send(channel: 0, .connection(.closeOk(.init()))),
                .closeConnection(ErrorShape(.authenticationFailed, replyCode: 403)),
            ])
        let error = try #require(actions.connectionCloseError)
        #expect(error.message.contains("mallory"))
        #expect(error.message.contains("PLAIN"))
        #expect(!error.message.contains("wrong"), "the password must not appear in the error")
        #expect(error.replyText?.hasPrefix("ACCESS_REFUSED") == true)
        #expect(connection.machine.isClosed)
    }

    @Test(arguments: [UInt16(530), 402, 403])
    func brokerCloseWhileOpeningTheVirtualHostIsAccessRefused(replyCode: UInt16) throws {
        var connection = ConnectionDriver(ConnectionDriver.handshake(virtualHost: "secret-vhost"))
        connection.startAndAuthenticate()
        _ = connection.receive(ConnectionDriver.tune())
        let close = AMQPMethod.connection(
            .close(
                .init(
                    replyCode: replyCode, replyText: "NOT_ALLOWED - access to vhost 'secret-vhost' refused",
                    classID: 10, methodID: 40)))
        let actions = connection.receive(close)
        #expect(
            actions.recorded == [
                .send(channel: 0, .connection(.closeOk(.init()))),
                .closeConnection(ErrorShape(.virtualHostAccessRefused, replyCode: replyCode, method: .connectionOpen)),
            ])
        #expect(actions.connectionCloseError?.message.contains("secret-vhost") == true)
    }

    @Test func otherBrokerCloseDuringTheHandshakeIsClosedByBroker() {
        var connection = ConnectionDriver()
        connection.startAndAuthenticate()
        let actions = connection.receive(.connection(.close(.init(replyCode: 320, replyText: "CONNECTION_FORCED"))))
        #expect(actions.recorded.last == .closeConnection(ErrorShape(.connectionClosedByBroker, replyCode: 320)))
    }

    @Test func transportFailureWhileAwaitingTuneMentionsTheCredentials() throws {
        var connection = ConnectionDriver()
        connection.startAndAuthenticate()
        let actions = connection.step {
            $0.transportFailed(AMQPError(.ioError, "the broker closed the TCP connection"), into: &$1)
        }
        #expect(actions.recorded == [.closeConnection(ErrorShape(.ioError))])
        let error = try #require(actions.connectionCloseError)
        #expect(error.message.contains("credentials"))
        #expect(error.message.hasPrefix("the broker closed the TCP connection"))
    }

    @Test func transportFailureAtOtherStepsDoesNotBlameTheCredentials() throws {
        var awaitingStart = ConnectionDriver()
        _ = awaitingStart.start()
        let early = awaitingStart.step { $0.transportFailed(AMQPError(.ioError, "reset"), into: &$1) }
        #expect(try #require(early.connectionCloseError).message == "reset")

        var awaitingOpenOk = ConnectionDriver()
        awaitingOpenOk.startAndAuthenticate()
        _ = awaitingOpenOk.receive(ConnectionDriver.tune())
        let late = awaitingOpenOk.step { $0.transportFailed(AMQPError(.ioError, "reset"), into: &$1) }
        #expect(try #require(late.connectionCloseError).message == "reset")
    }

    @Test func methodsOutOfHandshakeOrderAreUnexpected() {
        var connection = ConnectionDriver()
        _ = connection.start()
        let actions = connection.receive(ConnectionDriver.tune())
        #expect(actions.recorded == [.closeConnection(ErrorShape(.protocolError, replyCode: 505))])
    }

    @Test func applicationCloseDuringTheHandshakeDropsTheConnection() {
        var connection = ConnectionDriver()
        connection.startAndAuthenticate()
        let actions = connection.step { $0.close(request: 1, into: &$1) }
        #expect(
            actions.recorded == [
                .succeed(1, .method(.connection(.closeOk(.init())))), .closeConnection(ErrorShape(.connectionClosed)),
            ])
        #expect(connection.machine.isClosed)
    }

    @Test func closeBeforeStartClosesCleanly() {
        var connection = ConnectionDriver()
        let actions = connection.step { $0.close(request: nil, into: &$1) }
        #expect(actions.recorded == [.closeConnection(nil)])
        #expect(connection.start().isEmpty, "a closed connection does not start")
    }
}
