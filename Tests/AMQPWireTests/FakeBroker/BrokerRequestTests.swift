import Testing

@testable import AMQPWire

/// Synchronous requests on a channel: replies, their order, and a channel the broker closes.
@Suite(.timeLimit(.minutes(1)))
struct BrokerRequestTests {
    @Test func declareQueueReturnsTheDeclareOkFields() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let declaring = Task {
                try await channel.declareQueue("", durable: true, arguments: ["x-queue-type": "quorum"])
            }
            let declare = try await broker.expectMethod(channel: 1)
            #expect(declare == .queue(.declare(.init(queue: "", durable: true, arguments: ["x-queue-type": "quorum"]))))
            try await broker.send(
                method: .queue(.declareOk(.init(queue: "amq.gen-Xyz", messageCount: 7, consumerCount: 2))), channel: 1)
            let result = try await within("declareQueue") { try await declaring.value }
            #expect(result == QueueDeclareResult(name: "amq.gen-Xyz", messageCount: 7, consumerCount: 2))
        }
    }

    @Test func concurrentRequestsAreAnsweredInOrder() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let first = Task { try await channel.declareQueue("a") }
            let second = Task { try await channel.declareQueue("b") }
            // Whichever task ran first, each reply goes to the request it answers: the oldest.
            var names: [String] = []
            for _ in 0..<2 {
                names.append(
                    try await broker.expectMethod(channel: 1, "queue.declare") {
                        if case .queue(.declare(let d)) = $0 { d.queue } else { nil }
                    })
            }
            #expect(names.sorted() == ["a", "b"])
            for (index, name) in names.enumerated() {
                try await broker.send(
                    method: .queue(.declareOk(.init(queue: name, messageCount: UInt32(index)))), channel: 1)
            }
            #expect(try await within("declareQueue(a)") { try await first.value }.name == "a")
            #expect(try await within("declareQueue(b)") { try await second.value }.name == "b")
        }
    }

    @Test func brokerChannelCloseFailsTheRequestWithTheBrokersReply() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let declaring = Task { try await channel.declareQueue("missing", passive: true) }
            _ = try await broker.expectMethod(channel: 1)
            let text = "NOT_FOUND - no queue 'missing' in vhost '/'"
            try await broker.send(
                method: .channel(.close(.init(replyCode: 404, replyText: text, classID: 50, methodID: 10))), channel: 1)
            let error = try await amqpError("declareQueue") { try await declaring.value }
            #expect(error.code == .channelClosedByBroker)
            #expect(error.replyCode == .notFound)
            #expect(error.replyText == text)
            #expect(error.method == .queueDeclare)
            #expect(error.channel == 1)
            #expect(try await broker.expectMethod(channel: 1) == .channel(.closeOk(.init())))
            #expect(!channel.isOpen)
            let later = try await amqpError("declareQueue on the closed channel") {
                try await channel.declareQueue("q")
            }
            // Later calls say why the channel is gone: the broker's reply, not just "closed".
            #expect(later.code == .channelClosedByBroker)
            #expect(later.replyCode == .notFound)
            #expect(later.message.contains("channel 1 is closed"))
        }
    }

    @Test func connectionOutlivesAChannelTheBrokerClosed() async throws {
        try await FakeBroker.withConnection { broker, connection in
            _ = try await broker.openChannel(1, on: connection)
            try await broker.send(
                method: .channel(.close(.init(replyCode: 406, replyText: "PRECONDITION_FAILED"))), channel: 1)
            #expect(try await broker.expectMethod(channel: 1) == .channel(.closeOk(.init())))
            // Ids go round: not 1 again at once, where late frames of the old channel may still be about.
            let second = try await broker.openChannel(2, on: connection)
            let declaring = Task { try await second.declareQueue("q") }
            #expect(try await broker.expectMethod(channel: 2) == .queue(.declare(.init(queue: "q"))))
            try await broker.send(method: .queue(.declareOk(.init(queue: "q"))), channel: 2)
            #expect(try await within("declareQueue") { try await declaring.value }.name == "q")
            #expect(connection.isOpen)
        }
    }

    @Test func channelIdsAreReusedAfterWrappingAround() async throws {
        let tune = AMQPMethod.Connection.Tune(channelMax: 2, frameMax: 131_072, heartbeat: 0)
        try await FakeBroker.withConnection(tune: tune) { broker, connection in
            let first = try await broker.openChannel(1, on: connection)
            let second = try await broker.openChannel(2, on: connection)
            let closing = Task { try await first.close() }
            #expect(
                try await broker.expectMethod(channel: 1)
                    == .channel(.close(.init(replyCode: 200, replyText: "Goodbye"))))
            try await broker.send(method: .channel(.closeOk(.init())), channel: 1)
            try await within("close()") { try await closing.value }
            _ = try await broker.openChannel(1, on: connection)
            let full = try await amqpError("openChannel() with every id in use") { try await connection.openChannel() }
            #expect(full.code == .channelLimitReached)
            #expect(second.isOpen)
        }
    }
}
