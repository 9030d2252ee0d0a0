import Testing

@testable import AMQPWire

/// `connection.close()` by the application.
@Suite(.timeLimit(.minutes(1)))
struct ApplicationCloseTests {
    @Test func closeWaitsForCloseOkThenEndsConsumersCleanly() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let events = connection.events()
            let channel = try await broker.openChannel(1, on: connection)
            let consuming = Task { try await channel.consume(queue: "tasks") }
            try await broker.acceptConsume(channel: 1)
            let consumer = try await within("consume()") { try await consuming.value }

            let closing = Task { try await connection.close() }
            #expect(try await broker.expectMethod() == .connection(.close(.init(replyCode: 200, replyText: "Goodbye"))))
            try await broker.send(method: .connection(.closeOk(.init())))
            try await within("close()") { try await closing.value }

            #expect(try await consumer.next() == nil)
            #expect(!connection.isOpen)
            guard case .closed(nil) = try await events.next() else {
                Issue.record("expected a closed event without an error")
                return
            }
            let later = try await amqpError("declareQueue after close") { try await channel.declareQueue("q") }
            #expect(later.code == .connectionClosed)
            let reopen = try await amqpError("openChannel after close") { try await connection.openChannel() }
            #expect(reopen.code == .connectionClosed)
            try await broker.expectClientClosed()
        }
    }

    @Test func closeEndsWhenTheBrokerDropsInsteadOfAnswering() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let closing = Task { try await connection.close() }
            _ = try await broker.expectMethod()  // connection.close
            // The broker drops the socket instead of answering: close() ends all the same.
            broker.close()
            try await within("close()") { try await closing.value }
            #expect(!connection.isOpen)
        }
    }
}
