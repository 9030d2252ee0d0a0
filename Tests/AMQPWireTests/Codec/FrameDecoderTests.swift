import AMQPWire
import Testing

@Suite struct FrameDecoderTests {
    static let maxFrameSize: UInt32 = 4096

    @Test func mixedFrameStreamDecodesWholeByteByByteAndConcatenated() throws {
        let frames: [AMQPFrame] = [
            .method(
                channel: 1, .basic(.deliver(.init(consumerTag: "c", deliveryTag: 9, exchange: "x", routingKey: "r")))),
            .header(channel: 1, ContentHeader(bodySize: 3, properties: BasicProperties(deliveryMode: 2))),
            .body(channel: 1, [0x61, 0x62, 0x63]),
            .heartbeat,
            .body(channel: 65535, []),
            .body(channel: 2, patternedBody(count: Int(Self.maxFrameSize) - 8)[...]),
        ]
        try FrameDecoderVerifier.verify(
            frames.map { (try $0.encodedBytes(), [$0]) } + [(try frames.encodedBytes(), frames)],
            decoder: AMQPFrameDecoder(maxFrameSize: Self.maxFrameSize))
    }

    @Test func emptyBufferNeedsMoreBytes() throws {
        var buffer = WireBuffer()
        #expect(try AMQPFrameDecoder().decodeFrame(from: &buffer) == nil)
    }

    @Test func frameOfExactlyMaxFrameSizeIsAccepted() throws {
        let frame = AMQPFrame.body(channel: 1, patternedBody(count: Int(Self.maxFrameSize) - 8)[...])
        var buffer = WireBuffer(bytes: try frame.encodedBytes())
        #expect(buffer.readableBytes == Int(Self.maxFrameSize))
        #expect(try AMQPFrameDecoder(maxFrameSize: Self.maxFrameSize).decodeFrame(from: &buffer) == frame)
    }

    @Test func frameAtTheLimitWaitsForItsPayload() throws {
        // A body frame announcing 4088 bytes: 4096 with framing, so it is allowed and must wait.
        var buffer = WireBuffer(bytes: [0x03, 0x00, 0x01, 0x00, 0x00, 0x0F, 0xF8, 0x00])
        #expect(try AMQPFrameDecoder(maxFrameSize: Self.maxFrameSize).decodeFrame(from: &buffer) == nil)
        #expect(buffer.readerIndex == 0)
    }

    @Test(
        arguments: [
            [0x03, 0x00, 0x01, 0x00, 0x00, 0x0F, 0xF9],  // 4089 bytes: one past the limit with framing
            [0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF],  // the largest size a frame can announce
        ] as [[UInt8]])
    func oversizeFrameIsRejectedFromItsSevenByteHeaderWithoutWaitingForThePayload(_ header: [UInt8]) {
        var buffer = WireBuffer(bytes: header)
        #expect { try AMQPFrameDecoder(maxFrameSize: Self.maxFrameSize).decodeFrame(from: &buffer) } throws: {
            ($0 as? AMQPCodecError)?.code == .frameTooLarge
        }
    }

    @Test func sixBytesOfAnOversizeHeaderStillNeedMoreBytes() throws {
        var buffer = WireBuffer(bytes: [0x01, 0x00, 0x00, 0xFF, 0xFF, 0xFF])
        #expect(try AMQPFrameDecoder(maxFrameSize: Self.maxFrameSize).decodeFrame(from: &buffer) == nil)
    }

    @Test func partialProtocolHeaderNeedsMoreBytes() throws {
        var buffer = WireBuffer(bytes: [0x41, 0x4D, 0x51, 0x50])
        #expect(try AMQPFrameDecoder().decodeFrame(from: &buffer) == nil)
        #expect(buffer.readerIndex == 0)
    }

    @Test func decodingStopsAtAMalformedFrameAfterDeliveringTheGoodOnesBeforeIt() throws {
        var bytes = try [AMQPFrame.heartbeat, .body(channel: 1, [1])].encodedBytes()
        let good = bytes.count
        bytes += [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]  // heartbeat without its frame end
        var buffer = WireBuffer(bytes: bytes)
        let decoder = AMQPFrameDecoder()
        #expect(try decoder.decodeFrame(from: &buffer) == .heartbeat)
        #expect(try decoder.decodeFrame(from: &buffer) == .body(channel: 1, [1]))
        #expect(throws: AMQPCodecError.self) { try decoder.decodeFrame(from: &buffer) }
        #expect(buffer.readerIndex == good)
    }

    @Test(arguments: MalformedFrame.all)
    func malformedFrameIsRejectedWithItsCodeAndReplyCodeWithoutMovingTheReader(_ malformed: MalformedFrame) {
        var buffer = WireBuffer(bytes: malformed.bytes)
        let decoder = AMQPFrameDecoder(maxFrameSize: Self.maxFrameSize)
        #expect {
            try decoder.decodeFrame(from: &buffer)
        } throws: { error in
            guard let error = error as? AMQPCodecError else { return false }
            return error.code == malformed.code && error.replyCode == malformed.replyCode
        }
        #expect(buffer.readerIndex == 0)
    }
}

/// A complete input the decoder must reject, with the error and connection-close code it gives.
struct MalformedFrame: Sendable, CustomStringConvertible {
    var description: String
    var bytes: [UInt8]
    var code: AMQPCodecError.Code
    var replyCode: UInt16

    static let all: [MalformedFrame] = [
        MalformedFrame(
            description: "frame end 0x00 instead of 0xCE",
            bytes: [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], code: .badFrameEnd, replyCode: 501),
        MalformedFrame(
            description: "frame type 4, known from one byte", bytes: [0x04], code: .unknownFrameType, replyCode: 501),
        MalformedFrame(description: "frame type 0", bytes: [0x00, 0x00], code: .unknownFrameType, replyCode: 501),
        MalformedFrame(
            description: "server's protocol header AMQP 0-0-9-1",
            bytes: [0x41, 0x4D, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01], code: .protocolVersionMismatch, replyCode: 502),
        MalformedFrame(
            description: "server's protocol header AMQP 1.0",
            bytes: [0x41, 0x4D, 0x51, 0x50, 0x00, 0x01, 0x00, 0x00], code: .protocolVersionMismatch, replyCode: 502),
        MalformedFrame(
            description: "short string length past the payload",
            bytes: [
                0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x09,
                0x00, 0x3C, 0x00, 0x28, 0x00, 0x00, 0x10, 0x65, 0x78,  // basic.publish, exchange of 16 bytes
                0xCE,
            ] + nextFrame,
            code: .truncated, replyCode: 502),
        MalformedFrame(
            description: "method payload with a byte after its last field",
            bytes: [
                0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0D,
                0x00, 0x0A, 0x00, 0x1F, 0x07, 0xFF, 0x00, 0x02, 0x00, 0x00, 0x00, 0x3C, 0x00,  // tune-ok + 1 byte
                0xCE,
            ],
            code: .trailingBytes, replyCode: 502),
        MalformedFrame(
            description: "method payload shorter than its class and method ids",
            bytes: [0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x0A, 0xCE], code: .truncated, replyCode: 502),
        MalformedFrame(
            description: "class id 99",
            bytes: [0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x63, 0x00, 0x0A, 0xCE],
            code: .unknownMethod, replyCode: 540),
        MalformedFrame(
            description: "basic method id 255",
            bytes: [0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x04, 0x00, 0x3C, 0x00, 0xFF, 0xCE],
            code: .unknownMethod, replyCode: 540),
        MalformedFrame(
            description: "field type tag Z in queue.declare arguments",
            bytes: queueDeclare(arguments: [0x00, 0x00, 0x00, 0x04, 0x01, 0x6B, 0x5A, 0x00]),
            code: .unknownFieldType, replyCode: 502),
        MalformedFrame(
            description: "arguments table longer than the payload",
            bytes: queueDeclare(arguments: [0x00, 0x00, 0x01, 0x00, 0x01, 0x6B, 0x56]) + nextFrame,
            code: .truncated, replyCode: 502),
        MalformedFrame(
            description: "arguments nested 65 tables deep",
            bytes: queueDeclare(arguments: FieldTableNestingTests.nestedBytes(65)),
            code: .nestingTooDeep, replyCode: 502),
        MalformedFrame(
            description: "heartbeat on channel 1",
            bytes: [0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0xCE], code: .invalidValue, replyCode: 502),
        MalformedFrame(
            description: "heartbeat with a payload",
            bytes: [0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0xCE], code: .trailingBytes, replyCode: 502),
    ]

    /// A 300-byte body frame: enough bytes after a malformed frame that a field reading past its
    /// payload would find them, so only a payload-bounded read reports `.truncated`.
    static let nextFrame: [UInt8] =
        [0x03, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2C] + Array(repeating: 0x41, count: 300) + [0xCE]

    /// A queue.declare frame for queue "q" with `arguments` as the table bytes, length prefix included.
    static func queueDeclare(arguments: [UInt8]) -> [UInt8] {
        let payload: [UInt8] = [0x00, 0x32, 0x00, 0x0A, 0x00, 0x00, 0x01, 0x71, 0x00] + arguments
        return [0x01, 0x00, 0x01] + withUnsafeBytes(of: UInt32(payload.count).bigEndian, Array.init) + payload + [0xCE]
    }
}
