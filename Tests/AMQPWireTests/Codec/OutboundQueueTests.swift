import Testing

@testable import AMQPWire

@Suite struct OutboundQueueTests {
    private func bytes(of queue: OutboundQueue) -> [UInt8] {
        queue.pieces().flatMap { Array($0.bytes[$0.range]) }
    }

    private func copied(_ body: [UInt8], frameMax: UInt32) throws -> [UInt8] {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeContent(
            .basic(.publish(.init(routingKey: "q"))), channel: 3, properties: .init(messageID: "m"), body: body,
            frameMax: frameMax, into: &buffer)
        return buffer.readableBytesArray
    }

    /// A large body is referenced, not copied, and the queue's bytes equal the copying encoder's.
    @Test(arguments: [OutboundQueue.referenceThreshold, 300_000, 1 << 20])
    func largeBodyIsReferencedAndEncodesTheSameBytes(size: Int) throws {
        let body = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var queue = OutboundQueue(capacity: 1024)
        queue.withBuffer { AMQPFrameEncoder.writeHeartbeat(into: &$0) }
        try AMQPFrameEncoder.encodeContent(
            .basic(.publish(.init(routingKey: "q"))), channel: 3, properties: .init(messageID: "m"), body: body,
            frameMax: 131_072, into: &queue)
        queue.withBuffer { AMQPFrameEncoder.writeHeartbeat(into: &$0) }
        #expect(queue.hasReferences)
        #expect(queue.buffer.readableBytes < 4096, "the body must not be copied into the buffer")
        var expected = WireBuffer()
        AMQPFrameEncoder.writeHeartbeat(into: &expected)
        let heartbeat = expected.readableBytesArray
        #expect(bytes(of: queue) == heartbeat + (try copied(body, frameMax: 131_072)) + heartbeat)
        #expect(queue.readableBytes == bytes(of: queue).count)
    }

    @Test func smallBodyIsCopiedIntoTheBuffer() throws {
        var queue = OutboundQueue(capacity: 1024)
        let body = [UInt8](repeating: 9, count: 1000)
        try AMQPFrameEncoder.encodeContent(
            .basic(.publish(.init(routingKey: "q"))), channel: 3, properties: .init(messageID: "m"), body: body,
            frameMax: 131_072, into: &queue)
        #expect(!queue.hasReferences)
        #expect(bytes(of: queue) == (try copied(body, frameMax: 131_072)))
    }

    @Test func failedEncodeLeavesTheQueueAsItWas() throws {
        var queue = OutboundQueue(capacity: 1024)
        queue.withBuffer { AMQPFrameEncoder.writeHeartbeat(into: &$0) }
        let before = bytes(of: queue)
        let body = [UInt8](repeating: 1, count: OutboundQueue.referenceThreshold)
        #expect(throws: AMQPCodecError.self) {
            try AMQPFrameEncoder.encodeContent(
                .basic(.publish(.init(routingKey: String(repeating: "k", count: 256)))), channel: 1,
                properties: .init(),
                body: body, frameMax: 131_072, into: &queue)
        }
        #expect(bytes(of: queue) == before)
        #expect(!queue.hasReferences)
    }
}
