import Testing

@testable import AMQPWire

/// What the client sends during the handshake, and what it makes of the broker's answers.
@Suite(.timeLimit(.minutes(1)))
struct HandshakeTests {
    /// What the connection reports once connect() returned, before the broker goes away.
    private struct Connected {
        var isOpen: Bool
        var tuneParameters: TuneParameters?
        var serverProperties: FieldTable
    }

    /// Connects with `configuration`, plays the handshake, and returns what the client sent.
    private func handshake(
        _ configuration: AMQPConnectionConfiguration,
        tune: AMQPMethod.Connection.Tune = .fakeBroker, mechanisms: String = "PLAIN AMQPLAIN"
    ) async throws -> (FakeBroker.Handshake, Connected) {
        let broker = try FakeBroker()
        defer { broker.close() }
        let client = broker.startClient(configuration)
        let handshake = try await broker.handshake(tune: tune, mechanisms: mechanisms)
        let connection = try await within("connect()") { try await client.value }
        return (
            handshake,
            Connected(
                isOpen: connection.isOpen, tuneParameters: connection.tuneParameters,
                serverProperties: connection.serverProperties)
        )
    }

    @Test func startOkAdvertisesTheClientsCapabilities() async throws {
        let (handshake, _) = try await handshake(.fakeBroker)
        let properties = handshake.startOk.clientProperties
        guard case .table(let capabilities) = try #require(properties["capabilities"]) else {
            Issue.record("capabilities is not a table: \(properties)")
            return
        }
        for capability in [
            "publisher_confirms", "exchange_exchange_bindings", "basic.nack", "consumer_cancel_notify",
            "connection.blocked", "authentication_failure_close", "per_consumer_qos", "direct_reply_to",
        ] {
            #expect(capabilities[capability] == .boolean(true), "capability \(capability)")
        }
        #expect(properties["product"] == "AMQPWire")
        #expect(properties["connection_name"] == nil)
        #expect(handshake.startOk.locale == "en_US")
    }

    @Test func startOkCarriesTheConfiguredConnectionName() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.connectionName = "orders-worker-1"
        let (handshake, _) = try await handshake(configuration)
        #expect(handshake.startOk.clientProperties["connection_name"] == "orders-worker-1")
    }

    @Test func plainResponseIsNulUserNulPassword() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        (configuration.username, configuration.password) = ("alice", "s3cret")
        let (handshake, _) = try await handshake(configuration)
        #expect(handshake.startOk.mechanism == "PLAIN")
        #expect(handshake.startOk.response == [0] + Array("alice".utf8) + [0] + Array("s3cret".utf8))
    }

    @Test func mechanismIsTheClientsFirstPreferenceTheBrokerOffers() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.authMechanisms = [.external, .amqplain, .plain]
        let (handshake, _) = try await handshake(configuration, mechanisms: "PLAIN AMQPLAIN")
        #expect(handshake.startOk.mechanism == "AMQPLAIN")
    }

    @Test func amqplainResponseIsTableEntriesWithoutLengthPrefix() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        (configuration.username, configuration.password) = ("bob", "pw")
        configuration.authMechanisms = [.amqplain]
        let (handshake, _) = try await handshake(configuration)
        #expect(handshake.startOk.mechanism == "AMQPLAIN")
        let expected: [UInt8] =
            [5] + Array("LOGIN".utf8) + [UInt8(ascii: "S"), 0, 0, 0, 3] + Array("bob".utf8)
            + [8] + Array("PASSWORD".utf8) + [UInt8(ascii: "S"), 0, 0, 0, 2] + Array("pw".utf8)
        #expect(handshake.startOk.response == expected)
    }

    @Test func externalSendsAnEmptyResponse() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.authMechanisms = [.external]
        let (handshake, _) = try await handshake(configuration, mechanisms: "PLAIN AMQPLAIN EXTERNAL")
        #expect(handshake.startOk.mechanism == "EXTERNAL")
        #expect(handshake.startOk.response.isEmpty)
    }

    @Test func tuneOkTakesTheClientsValuesWhereTheBrokerHasNoLimit() async throws {
        // The defaults ask for 2047 channels, 128 KiB frames and 60 s heartbeats.
        let (handshake, connection) = try await handshake(
            AMQPConnectionConfiguration(), tune: .init(channelMax: 0, frameMax: 131_072, heartbeat: 60))
        #expect(handshake.tuneOk == .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60))
        #expect(connection.tuneParameters == TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60))
    }

    @Test func tuneOkTakesTheBrokersSmallerValues() async throws {
        let (handshake, connection) = try await handshake(
            AMQPConnectionConfiguration(), tune: .init(channelMax: 100, frameMax: 16_384, heartbeat: 30))
        #expect(handshake.tuneOk == .init(channelMax: 100, frameMax: 16_384, heartbeat: 30))
        #expect(connection.tuneParameters == TuneParameters(channelMax: 100, frameMax: 16_384, heartbeat: 30))
    }

    @Test func openNamesTheConfiguredVirtualHost() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.virtualHost = "staging/eu"
        let (handshake, connection) = try await handshake(configuration)
        #expect(handshake.open.virtualHost == "staging/eu")
        #expect(connection.isOpen)
        #expect(connection.serverProperties["product"] == "FakeBroker")
    }

    @Test func connectWaitsForOpenOk() async throws {
        // Had connect() returned before open-ok, the broker dropping the socket here could not fail it.
        let broker = try FakeBroker()
        defer { broker.close() }
        let client = broker.startClient()
        try await broker.expectProtocolHeader()
        try await broker.send(method: .connection(.start(FakeBroker.start())))
        _ = try await broker.expectMethod()  // start-ok
        try await broker.send(method: .connection(.tune(.fakeBroker)))
        _ = try await broker.expectMethod()  // tune-ok
        _ = try await broker.expectMethod()  // open
        broker.close()
        let error = try await amqpError("connect()") { try await client.value }
        #expect(error.code == .ioError)
    }
}
