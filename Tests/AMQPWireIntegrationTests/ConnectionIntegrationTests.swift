import AMQPWire
import Foundation
import ServiceTestSupport
import Testing

@Suite(.enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct ConnectionIntegrationTests {
    @Test func handshakeNegotiatesTheRequestedParameters() async throws {
        let connection = try await Broker.connect { $0.connectionName = "handshake-test" }
        let tune = try #require(connection.tuneParameters)
        #expect(tune.channelMax == 2047)
        #expect(tune.frameMax == 131_072)
        #expect(tune.heartbeat == 60)
        #expect(connection.serverProperties["product"]?.stringValue == "RabbitMQ")
        guard case .table(let capabilities)? = connection.serverProperties["capabilities"] else {
            Issue.record("no capabilities table in server properties")
            return
        }
        #expect(capabilities["publisher_confirms"] == .boolean(true))
        try await connection.close()
        #expect(!connection.isOpen)
    }

    @Test func queryParametersReachTheBroker() async throws {
        var config = try AMQPConnectionConfiguration(url: Broker.url + "?heartbeat=5&channel_max=10&frame_max=16384")
        config.connectionTimeout = .seconds(10)
        let connection = try await AMQPConnection.connect(config)
        #expect(connection.tuneParameters == TuneParameters(channelMax: 10, frameMax: 16384, heartbeat: 5))
        try await connection.close()
    }

    @Test func wrongPasswordIsAClearAuthenticationError() async throws {
        var config = try Broker.configuration
        config.password = "definitely-wrong"
        let error = try await #require(throws: AMQPError.self) { try await AMQPConnection.connect(config) }
        #expect(error.code == .authenticationFailed)
        #expect(error.replyCode == .accessRefused)
        #expect(error.message.contains("guest"))
    }

    @Test func amqplainAuthenticates() async throws {
        let connection = try await Broker.connect { $0.authMechanisms = [.amqplain] }
        #expect(connection.isOpen)
        try await connection.close()
    }

    @Test func onlyExternalAllowedFailsWithNoCommonMechanism() async throws {
        var config = try Broker.configuration
        config.authMechanisms = [.external]
        let error = try await #require(throws: AMQPError.self) { try await AMQPConnection.connect(config) }
        #expect(error.code == .noCommonAuthMechanism)
        #expect(error.message.contains("PLAIN"))
    }

    @Test func virtualHostWithoutAccessIsRefused() async throws {
        let vhost = Broker.unique("vhost")
        try await BrokerControl.ctl("add_vhost", vhost)
        try await withCleanup {
            var config = try Broker.configuration
            config.virtualHost = vhost
            let error = try await #require(throws: AMQPError.self) { try await AMQPConnection.connect(config) }
            #expect(error.code == .virtualHostAccessRefused)
            #expect(error.replyCode == .notAllowed)
            #expect(error.message.contains(vhost))

            config.virtualHost = "no-such-vhost-\(UUID().uuidString)"
            let missing = try await #require(throws: AMQPError.self) { try await AMQPConnection.connect(config) }
            #expect(missing.code == .virtualHostAccessRefused)
        } cleanup: {
            _ = try? await BrokerControl.ctl("delete_vhost", vhost)
        }
    }

    @Test func ipv6LoopbackConnects() async throws {
        var config = try Broker.configuration
        config.endpoints = config.endpoints.map { .init(host: "::1", port: $0.port) }
        let connection = try await AMQPConnection.connect(config)
        #expect(connection.isOpen)
        try await connection.close()
    }

    @Test func endpointsAreTriedInOrder() async throws {
        var config = try Broker.configuration
        let proxy = try TCPProxy.forBroker()
        proxy.stop()  // a port nothing listens on any more
        config.endpoints.insert(.init(host: "127.0.0.1", port: proxy.port), at: 0)
        let connection = try await AMQPConnection.connect(config)
        #expect(connection.isOpen)
        try await connection.close()
    }

    @Test func unreachableBrokerFailsWithEveryEndpointNamed() async throws {
        var config = AMQPConnectionConfiguration()
        let a = try TCPProxy.forBroker()
        let b = try TCPProxy.forBroker()
        a.stop()
        b.stop()
        config.endpoints = [.init(host: "127.0.0.1", port: a.port), .init(host: "127.0.0.1", port: b.port)]
        let error = try await #require(throws: AMQPError.self) { try await AMQPConnection.connect(config) }
        #expect(error.code == .connectFailed)
        #expect(error.message.contains(String(a.port)) && error.message.contains(String(b.port)))
    }

    @Test func closeConnectionByRabbitmqctlWithoutRecoveryFailsWaitersWithTheReason() async throws {
        let name = Broker.unique("closed-by-ctl")
        let connection = try await Broker.connect {
            $0.connectionName = name
            $0.recovery.isEnabled = false
        }
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        let consumer = try await channel.consume(queue: queue)
        try await BrokerControl.closeConnection(named: name)
        var iterator = consumer.makeAsyncIterator()
        let error = try await #require(throws: AMQPError.self) { _ = try await iterator.next() }
        #expect(error.code == .connectionClosedByBroker)
        #expect(error.replyCode == .connectionForced)
        #expect(error.message.contains("closed by the test"))
        #expect(connection.closeReason?.replyCode == .connectionForced)
        await #expect(throws: AMQPError.self) { try await channel.declareQueue(exclusive: true) }
    }

    @Test func channelMaxIsEnforcedAndIdsAreReused() async throws {
        let connection = try await Broker.connect { $0.channelMax = 4 }
        var channels: [AMQPChannel] = []
        for _ in 0..<4 { channels.append(try await connection.openChannel()) }
        #expect(Set(channels.map(\.id)) == [1, 2, 3, 4])
        let error = try await #require(throws: AMQPError.self) { try await connection.openChannel() }
        #expect(error.code == .channelLimitReached)
        try await channels[1].close()
        let reused = try await connection.openChannel()
        #expect(reused.id == 2)
        try await reused.close()
        // Many more opens and closes than channel_max: ids keep being reused.
        for _ in 0..<20 {
            let channel = try await connection.openChannel()
            try await channel.close()
        }
        try await connection.close()
    }

    @Test func updateSecretIsAccepted() async throws {
        let connection = try await Broker.connect()
        try await connection.updateSecret("guest", reason: "rotation test")
        let channel = try await connection.openChannel()
        try await channel.declareQueue(exclusive: true)
        try await connection.close()
    }

    @Test func closingTwiceAndUsingAClosedConnectionAreHandled() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        try await connection.close()
        try await connection.close()
        let error = try await #require(throws: AMQPError.self) { try await channel.declareQueue() }
        #expect(error.code == .connectionClosed)
        let reopen = try await #require(throws: AMQPError.self) { try await connection.openChannel() }
        #expect(reopen.code == .connectionClosed)
    }
}
