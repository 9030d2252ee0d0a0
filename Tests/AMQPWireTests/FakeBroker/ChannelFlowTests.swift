import Testing

@testable import AMQPWire

/// channel.flow from the broker: publishing on that channel pauses and resumes; other channels
/// and everything but publishing go on.
@Suite(.timeLimit(.minutes(1)))
struct ChannelFlowTests {
    @Test func brokerFlowPausesPublishingOnItsChannelOnly() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let paused = try await broker.openChannel(1, on: connection)
            let other = try await broker.openChannel(2, on: connection)
            try await broker.send(method: .channel(.flow(.init(active: false))), channel: 1)
            #expect(try await broker.expectMethod(channel: 1) == .channel(.flowOk(.init(active: false))))
            try await eventually("the channel reports flow paused") { !paused.isFlowActive }

            let publishing = Task { try await paused.publish("held", routingKey: "q") }
            try await eventually("the publish waits") { connection.waitingPublishers == 1 }
            // The other channel publishes, and the paused one still acks.
            try await other.publish("free", routingKey: "q")
            #expect(try await broker.expectContent(channel: 2).body == Array("free".utf8))
            try paused.ack(deliveryTag: 3)
            #expect(try await broker.expectMethod(channel: 1) == .basic(.ack(.init(deliveryTag: 3))))

            try await broker.send(method: .channel(.flow(.init(active: true))), channel: 1)
            #expect(try await broker.expectMethod(channel: 1) == .channel(.flowOk(.init(active: true))))
            #expect(try await broker.expectContent(channel: 1).body == Array("held".utf8))
            _ = try await within("the held publish") { try await publishing.value }
            #expect(paused.isFlowActive)
        }
    }
}
