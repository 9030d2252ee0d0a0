import Testing

@testable import AMQPWire

/// Heartbeats on a connection, with the synthetic clock of ``ConnectionDriver``.
@Suite struct ConnectionHeartbeatTests {
    func opened(heartbeat: UInt16) -> ConnectionDriver {
        ConnectionDriver.opened(tune: ConnectionDriver.tune(heartbeat: heartbeat))
    }

    @Test func negotiatedIntervalStartsTheHeartbeat() {
        var connection = opened(heartbeat: 10)
        #expect(connection.machine.heartbeat.interval == .seconds(10))
        connection.advance(by: .milliseconds(4999))
        #expect(connection.tick().isEmpty)
        connection.advance(by: .milliseconds(1))
        #expect(connection.tick().recorded == [.heartbeat])
        #expect(connection.tick().isEmpty, "a heartbeat counts as a write")
    }

    @Test func clientsSmallerIntervalWins() {
        let handshake = ConnectionDriver.handshake(requested: .init(channelMax: 0, frameMax: 0, heartbeat: 4))
        var connection = ConnectionDriver.opened(handshake, tune: ConnectionDriver.tune(heartbeat: 60))
        connection.advance(by: .seconds(2))
        #expect(connection.tick().recorded == [.heartbeat])
    }

    @Test func zeroIntervalDisablesHeartbeats() {
        let handshake = ConnectionDriver.handshake(requested: .init(channelMax: 0, frameMax: 0, heartbeat: 0))
        var connection = ConnectionDriver.opened(handshake, tune: ConnectionDriver.tune(heartbeat: 0))
        connection.advance(by: .seconds(86_400))
        #expect(connection.tick().isEmpty)
        #expect(connection.machine.heartbeat.nextDeadline() == nil)
        #expect(connection.machine.isOpen)
    }

    @Test func inboundFramesKeepTheConnectionAlive() {
        var connection = opened(heartbeat: 10)
        for _ in 0..<20 {
            connection.advance(by: .seconds(15))
            _ = connection.receive(.heartbeat)
            #expect(connection.tick().recorded == [.heartbeat])
        }
        #expect(connection.machine.isOpen)
    }

    @Test func heartbeatDeathFailsEveryChannelsPendingRequests() throws {
        var connection = opened(heartbeat: 10)
        let first = try connection.openChannel(request: 1)
        let second = try connection.openChannel(request: 2)
        _ = try connection.request(3, on: first, .queue(.declare(.init(queue: "a"))))
        _ = try connection.request(4, on: first, .basic(.qos(.init())))
        _ = try connection.request(5, on: second, .basic(.get(.init(queue: "b"))))

        connection.advance(by: .milliseconds(19_999))
        #expect(connection.tick().recorded == [.heartbeat])
        connection.advance(by: .milliseconds(1))
        let actions = connection.tick()
        let dead = ErrorShape(.heartbeatTimeout)
        #expect(
            actions.recorded == [
                .fail(3, dead), .fail(4, dead), .channelLost(first, dead),
                .fail(5, dead), .channelLost(second, dead),
                .closeConnection(dead),
            ])
        let error = try #require(actions.connectionCloseError)
        #expect(error.message.contains("20 s"))
        #expect(error.message.contains("10 s"))
        #expect(connection.machine.isClosed)
        #expect(connection.tick().isEmpty)
    }
}
