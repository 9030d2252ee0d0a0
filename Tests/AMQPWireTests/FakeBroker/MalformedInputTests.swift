import Testing

@testable import AMQPWire

/// Bytes from the broker the client must not accept.
@Suite(.timeLimit(.minutes(1)))
struct MalformedInputTests {
    struct Malformed: Sendable, CustomStringConvertible {
        var description: String
        var bytes: [UInt8]
    }

    static let frameErrors: [Malformed] = [
        {
            // channel.flow on channel 1 whose last octet is not 0xCE
            var bytes: [UInt8] = [1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 20, 1, 0xCE]
            bytes[bytes.count - 1] = 0x00
            return Malformed(description: "a frame without frame-end", bytes: bytes)
        }(),
        Malformed(description: "an unknown frame type", bytes: [9, 0, 0, 0, 0, 0, 0, 0xCE]),
        // A body frame of 16,385 bytes with framing when 16,384 was agreed: refused from its header.
        Malformed(description: "a frame bigger than frame_max", bytes: [3, 0, 1, 0, 0, 0x3F, 0xF9]),
    ]

    @Test(arguments: frameErrors)
    func frameErrorClosesTheConnectionWith501(_ input: Malformed) async throws {
        let tune = AMQPMethod.Connection.Tune(channelMax: 2047, frameMax: 16_384, heartbeat: 0)
        try await FakeBroker.withConnection(tune: tune) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let declaring = Task { try await channel.declareQueue("q") }
            _ = try await broker.expectMethod(channel: 1)
            try await broker.sendRaw(input.bytes)
            let close = try await broker.expectMethod("connection.close") {
                if case .connection(.close(let close)) = $0 { close } else { nil }
            }
            #expect(close.replyCode == 501)
            let error = try await amqpError("declareQueue") { try await declaring.value }
            #expect(error.code == .protocolError)
            #expect(connection.closeReason?.code == .protocolError)
            try await broker.expectClientClosed()
        }
    }

    @Test func oversizedDeliveryClosesItsChannelButNotTheConnection() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.maxMessageSize = 1000
        try await FakeBroker.withConnection(configuration) { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consuming = Task { try await channel.consume(queue: "tasks") }
            try await broker.acceptConsume(channel: 1)
            let consumer = try await within("consume()") { try await consuming.value }

            try await broker.sendContent(
                .basic(.deliver(.init(consumerTag: "ctag-1", deliveryTag: 1))), channel: 1,
                body: [UInt8](repeating: 0x2A, count: 5000))
            let close = try await broker.expectMethod(channel: 1, "channel.close") {
                if case .channel(.close(let close)) = $0 { close } else { nil }
            }
            #expect(close.replyCode == 311)
            let error = try await amqpError("the consumer") { try await consumer.next() }
            #expect(error.code == .messageTooLarge)
            try await broker.send(method: .channel(.closeOk(.init())), channel: 1)

            #expect(connection.isOpen)
            _ = try await broker.openChannel(2, on: connection)
        }
    }
}
