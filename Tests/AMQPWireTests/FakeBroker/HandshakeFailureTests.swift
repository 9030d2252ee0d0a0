import Testing

@testable import AMQPWire

/// How connect() reports a broker that refuses, breaks off or never answers the handshake.
@Suite(.timeLimit(.minutes(1)))
struct HandshakeFailureTests {
    /// Plays the handshake up to the client's start-ok.
    private func startUntilStartOk(_ broker: FakeBroker) async throws {
        try await broker.expectProtocolHeader()
        try await broker.send(method: .connection(.start(FakeBroker.start())))
        _ = try await broker.expectMethod("connection.start-ok") {
            if case .connection(.startOk(let m)) = $0 { m } else { nil }
        }
    }

    @Test func refusedLoginFailsWithAuthenticationFailed() async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        let client = broker.startClient()
        try await startUntilStartOk(broker)
        let text = "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN."
        try await broker.send(method: .connection(.close(.init(replyCode: 403, replyText: text))))
        let error = try await amqpError("connect()") { try await client.value }
        #expect(error.code == .authenticationFailed)
        #expect(error.message.contains(text))
        #expect(error.replyCode == .accessRefused)
        #expect(try await broker.expectMethod() == .connection(.closeOk(.init())))
    }

    @Test func refusedVirtualHostFailsWithVirtualHostAccessRefused() async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.virtualHost = "private"
        let client = broker.startClient(configuration)
        try await startUntilStartOk(broker)
        try await broker.send(method: .connection(.tune(.fakeBroker)))
        _ = try await broker.expectMethod()  // tune-ok
        _ = try await broker.expectMethod()  // open
        let text = "NOT_ALLOWED - access to vhost 'private' refused for user 'guest'"
        try await broker.send(
            method: .connection(.close(.init(replyCode: 530, replyText: text, classID: 10, methodID: 40))))
        let error = try await amqpError("connect()") { try await client.value }
        #expect(error.code == .virtualHostAccessRefused)
        #expect(error.message.contains("private"))
        #expect(error.replyText == text)
    }

    @Test func socketDroppedAfterStartOkSuggestsRefusedCredentials() async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        let client = broker.startClient()
        try await startUntilStartOk(broker)
        broker.close()
        let error = try await amqpError("connect()") { try await client.value }
        #expect(error.code == .ioError)
        #expect(error.message.contains("credentials"))
    }

    @Test(
        arguments: [
            ([0, 0, 9, 1], "0-9-1"),  // the bytes the brief's broker answers with
            ([1, 1, 0, 0], "1-0-0"),  // RabbitMQ's AMQP 1.0 header
        ] as [([UInt8], String)])
    func protocolHeaderFromTheBrokerFailsNamingItsVersion(version: [UInt8], name: String) async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        let client = broker.startClient()
        try await broker.expectProtocolHeader()
        try await broker.sendRaw(Array("AMQP".utf8) + version)
        let error = try await amqpError("connect()") { try await client.value }
        #expect(error.code == .protocolError)
        #expect(error.message.contains(name))
    }

    @Test func silentBrokerFailsWithConnectTimeout() async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.connectionTimeout = .milliseconds(300)
        let client = broker.startClient(configuration)
        try await broker.expectProtocolHeader()
        let error = try await amqpError("connect()") { try await client.value }
        #expect(error.code == .connectTimeout)
        try await broker.expectClientClosed()
    }
}
