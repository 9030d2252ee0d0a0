import Testing

@testable import AMQPWire

/// connection.blocked / unblocked: publishes wait, everything else goes on.
@Suite(.timeLimit(.minutes(1)))
struct ConnectionBlockedTests {
    @Test func blockedConnectionHoldsPublishesButNotAcks() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let events = connection.events()
            let channel = try await broker.openChannel(1, on: connection)
            try await broker.send(method: .connection(.blocked(.init(reason: "low on memory"))))
            guard case .blocked(let reason) = try await events.next() else {
                Issue.record("expected a blocked event")
                return
            }
            #expect(reason == "low on memory")
            #expect(connection.isBlocked)

            let publishing = Task { try await channel.publish("held", routingKey: "q") }
            try await eventually("the publish waits") { connection.waitingPublishers == 1 }
            try channel.ack(deliveryTag: 7)
            // The ack goes out; the publish queued before it does not.
            #expect(try await broker.expectMethod(channel: 1) == .basic(.ack(.init(deliveryTag: 7))))

            try await broker.send(method: .connection(.unblocked(.init())))
            let content = try await broker.expectContent(channel: 1)
            #expect(content.body == Array("held".utf8))
            _ = try await within("the held publish") { try await publishing.value }
            guard case .unblocked = try await events.next() else {
                Issue.record("expected an unblocked event")
                return
            }
            #expect(!connection.isBlocked)
        }
    }
}
