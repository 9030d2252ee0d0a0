import Testing

@testable import AMQPWire

/// Heartbeats with a negotiated interval of one second: the client sends one after half an
/// interval without writes, and gives the broker up after two intervals of silence.
/// (The deadlines below only keep a broken client from hanging the run; they measure nothing.)
/// Runs in scripts/test.sh's Isolated pass: on two cores, heavy tests beside it could delay the
/// fake broker past the two seconds of silence that end a connection.
@Suite(.timeLimit(.minutes(1)))
struct IsolatedHeartbeatTests {
    private static var oneSecond: AMQPConnectionConfiguration {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.heartbeat = 1
        return configuration
    }
    private static let tune = AMQPMethod.Connection.Tune(channelMax: 2047, frameMax: 131_072, heartbeat: 1)

    @Test func idleClientSendsHeartbeats() async throws {
        try await FakeBroker.withConnection(Self.oneSecond, tune: Self.tune) { broker, connection in
            #expect(connection.tuneParameters?.heartbeat == 1)
            let frames = [try await broker.expectFrame(), try await broker.expectFrame()]
            #expect(frames == [.heartbeat, .heartbeat])
        }
    }

    @Test func silentBrokerIsDeclaredDead() async throws {
        try await FakeBroker.withConnection(Self.oneSecond, tune: Self.tune) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let declaring = Task { try await channel.declareQueue("tasks") }
            #expect(try await broker.expectMethod(channel: 1) == .queue(.declare(.init(queue: "tasks"))))
            // The broker answers nothing from here on.
            let error = try await amqpError("declareQueue", within: .seconds(10)) { try await declaring.value }
            #expect(error.code == .heartbeatTimeout)
            #expect(connection.closeReason?.code == .heartbeatTimeout)
            #expect(!connection.isOpen)
        }
    }

    @Test func brokerHeartbeatsKeepTheConnectionAlive() async throws {
        try await FakeBroker.withConnection(Self.oneSecond, tune: Self.tune) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            // Three and a half seconds of nothing but heartbeats: beyond the two seconds of
            // silence after which the client would give up.
            for _ in 0..<7 {
                try await broker.send(.heartbeat)
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(connection.isOpen)
            let declaring = Task { try await channel.declareQueue("tasks") }
            #expect(try await broker.expectMethod(channel: 1) == .queue(.declare(.init(queue: "tasks"))))
            try await broker.send(method: .queue(.declareOk(.init(queue: "tasks"))), channel: 1)
            let result = try await within("declareQueue") { try await declaring.value }
            #expect(result.name == "tasks")
        }
    }
}
