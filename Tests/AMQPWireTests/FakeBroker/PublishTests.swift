import Testing

@testable import AMQPWire

/// The frames a publish puts on the wire.
@Suite(.timeLimit(.minutes(1)))
struct PublishTests {
    /// Queues an ack the broker must see next: proof that nothing else was sent before it.
    private func fence(_ channel: AMQPChannel, _ broker: FakeBroker) async throws {
        try channel.ack(deliveryTag: 4242)
        let next = try await broker.expectMethod(channel: channel.id)
        #expect(next == .basic(.ack(.init(deliveryTag: 4242))), "expected nothing before the fence")
    }

    @Test func publishSendsMethodHeaderAndBodyFrames() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let properties = BasicProperties(
                contentType: "application/json", headers: ["attempt": .int32(3)], deliveryMode: 2,
                correlationID: "c-1", timestamp: AMQPTimestamp(secondsSince1970: 1_700_000_000))
            let body = Array(#"{"order":42}"#.utf8)
            try await channel.publish(
                body, exchange: "orders", routingKey: "created", mandatory: true, properties: properties)
            let frames = [
                try await broker.expectFrame(), try await broker.expectFrame(), try await broker.expectFrame(),
            ]
            #expect(
                frames == [
                    .method(
                        channel: 1, .basic(.publish(.init(exchange: "orders", routingKey: "created", mandatory: true)))),
                    .header(channel: 1, ContentHeader(bodySize: UInt64(body.count), properties: properties)),
                    .body(channel: 1, body[...]),
                ])
            try await fence(channel, broker)
        }
    }

    @Test func largeBodyIsSplitIntoFramesThatFitFrameMax() async throws {
        let tune = AMQPMethod.Connection.Tune(channelMax: 2047, frameMax: 16_384, heartbeat: 0)
        try await FakeBroker.withConnection(tune: tune) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let body = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
            try await channel.publish(body, routingKey: "big")
            let content = try await broker.expectContent(channel: 1)
            #expect(content.header.bodySize == 300_000)
            #expect(content.body == body)
            #expect(content.bodyFrames.allSatisfy { $0.count <= 16_384 - 8 })
            #expect(content.bodyFrames.count == 19)  // ⌈300000 / 16376⌉
            try await fence(channel, broker)
        }
    }

    @Test func emptyBodyIsSentWithoutBodyFrame() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            try await channel.publish([UInt8](), routingKey: "empty")
            #expect(try await broker.expectFrame() == .method(channel: 1, .basic(.publish(.init(routingKey: "empty")))))
            #expect(
                try await broker.expectFrame() == .header(channel: 1, ContentHeader(bodySize: 0, properties: .init())))
            try await fence(channel, broker)
        }
    }

    @Test func concurrentPublishersNeverInterleaveFramesOfOneMessage() async throws {
        // Small frames so every message spans several body frames, where interleaving would show.
        let tune = AMQPMethod.Connection.Tune(channelMax: 2047, frameMax: 8192, heartbeat: 0)
        let perPublisher = 200
        try await FakeBroker.withConnection(tune: tune) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let publishers = (0..<2).map { publisher in
                Task {
                    for sequence in 0..<perPublisher {
                        // Every byte of the body names its publisher.
                        let body = [UInt8](repeating: UInt8(publisher), count: 20_000 + sequence)
                        try await channel.publish(body, routingKey: "p\(publisher)-\(sequence)")
                    }
                }
            }
            var next = [0, 0]
            for _ in 0..<(2 * perPublisher) {
                let content = try await broker.expectContent(channel: 1)
                guard case .basic(.publish(let publish)) = content.method else {
                    Issue.record("not a publish: \(content.method)")
                    return
                }
                let publisher = publish.routingKey.hasPrefix("p0-") ? 0 : 1
                #expect(publish.routingKey == "p\(publisher)-\(next[publisher])", "each publisher's messages in order")
                #expect(content.header.bodySize == UInt64(20_000 + next[publisher]))
                #expect(content.bodyFrames.count == 3)
                #expect(
                    content.body.allSatisfy { $0 == UInt8(publisher) }, "a body holds only its own publisher's bytes")
                next[publisher] += 1
            }
            for publisher in publishers { try await within("the publishers") { try await publisher.value } }
            #expect(next == [perPublisher, perPublisher])
        }
    }

    @Test func publishQueuedWhileALargeWriteIsStuckIsSent() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            // More than the socket holds: the write stalls until the broker reads.
            try await channel.publish([UInt8](repeating: 1, count: 2 << 20), routingKey: "large")
            try await channel.publish("small", routingKey: "small")
            #expect(try await broker.expectContent(channel: 1).header.bodySize == 2 << 20)
            #expect(try await broker.expectContent(channel: 1).body == Array("small".utf8))
        }
    }

    @Test func overlongRoutingKeyIsRefusedAndNothingIsSent() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let key = String(repeating: "k", count: 256)
            let error = try await amqpError("publish") { try await channel.publish("hello", routingKey: key) }
            #expect(error.code == .invalidArgument)
            #expect(channel.isOpen)
            try await fence(channel, broker)
        }
    }
}
