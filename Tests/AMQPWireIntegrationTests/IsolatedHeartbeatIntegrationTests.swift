import AMQPWire
import Testing

/// One-second heartbeats against the real broker. Runs in scripts/test.sh's Isolated pass, so a
/// busy machine cannot stall the handshake past two silent seconds.
@Suite(.enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct IsolatedHeartbeatIntegrationTests {
    @Test func deadPeerIsDetectedByHeartbeat() async throws {
        let proxy = try TCPProxy.forBroker()
        defer { proxy.stop() }
        let connection = try await Broker.connect {
            $0.endpoints = [.init(host: "127.0.0.1", port: proxy.port)]
            $0.heartbeat = 1
            $0.recovery.isEnabled = false  // detection only; recovery has tests of its own
        }
        let channel = try await connection.openChannel()
        proxy.setMode(.frozen)
        let events = connection.events()
        // A request that will never be answered: the heartbeat monitor must fail it.
        let error = try await #require(throws: AMQPError.self) { try await channel.declareQueue(exclusive: true) }
        #expect(error.code == .heartbeatTimeout)
        #expect(connection.closeReason?.code == .heartbeatTimeout)
        for await event in events {
            if case .closed(let reason) = event {
                #expect(reason?.code == .heartbeatTimeout)
                break
            }
        }
    }

    @Test func heartbeatsKeepAnIdleConnectionOpen() async throws {
        let connection = try await Broker.connect { $0.heartbeat = 1 }
        let channel = try await connection.openChannel()
        try await Task.sleep(for: .seconds(3))
        #expect(connection.isOpen)
        try await channel.declareQueue(exclusive: true)
        try await connection.close()
    }
}
