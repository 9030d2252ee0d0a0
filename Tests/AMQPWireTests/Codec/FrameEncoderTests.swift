import AMQPWire
import Testing

@Suite struct FrameEncoderTests {
    static let publish = AMQPMethod.basic(.publish(.init(exchange: "ex", routingKey: "rk")))

    struct SplitCase: Sendable, CustomStringConvertible {
        var frameMax: UInt32
        var bodySize: Int
        var expectedBodyFrameSizes: [Int]
        var description: String { "body of \(bodySize) bytes at frame_max \(frameMax)" }
    }

    static let splitCases: [SplitCase] = [4096, 131_072].flatMap { (frameMax: UInt32) -> [SplitCase] in
        let chunk = Int(frameMax) - 8
        return [
            SplitCase(frameMax: frameMax, bodySize: 0, expectedBodyFrameSizes: []),
            SplitCase(frameMax: frameMax, bodySize: 1, expectedBodyFrameSizes: [1]),
            SplitCase(frameMax: frameMax, bodySize: chunk, expectedBodyFrameSizes: [chunk]),
            SplitCase(frameMax: frameMax, bodySize: chunk + 1, expectedBodyFrameSizes: [chunk, 1]),
            SplitCase(frameMax: frameMax, bodySize: 3 * chunk + 5, expectedBodyFrameSizes: [chunk, chunk, chunk, 5]),
        ]
    }

    /// Decodes everything in `buffer` with a decoder limited to `frameMax`, so each frame is proven to fit.
    static func decodeAll(_ buffer: WireBuffer, frameMax: UInt32) throws -> [AMQPFrame] {
        var buffer = buffer
        var frames: [AMQPFrame] = []
        while let frame = try AMQPFrameDecoder(maxFrameSize: frameMax).decodeFrame(from: &buffer) {
            frames.append(frame)
        }
        #expect(buffer.readableBytes == 0)
        return frames
    }

    @Test(arguments: splitCases)
    func bodyIsSplitIntoFramesThatFitFrameMaxAndReassemble(_ split: SplitCase) throws {
        let body = patternedBody(count: split.bodySize)
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeContent(
            Self.publish, channel: 5, properties: MethodSamples.properties, body: body, frameMax: split.frameMax,
            into: &buffer)
        let frames = try Self.decodeAll(buffer, frameMax: split.frameMax)
        try #require(frames.count == 2 + split.expectedBodyFrameSizes.count)
        #expect(frames[0] == .method(channel: 5, Self.publish))
        #expect(
            frames[1]
                == .header(
                    channel: 5, ContentHeader(bodySize: UInt64(body.count), properties: MethodSamples.properties)))
        var reassembled: [UInt8] = []
        var sizes: [Int] = []
        for frame in frames.dropFirst(2) {
            guard case .body(5, let bytes) = frame else {
                Issue.record("expected a body frame on channel 5, got \(frame)")
                continue
            }
            sizes.append(bytes.count)
            reassembled += bytes
        }
        #expect(sizes == split.expectedBodyFrameSizes)
        #expect(reassembled == body)
    }

    @Test func emptyBodyIsEncodedWithoutBodyFrame() throws {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeContent(
            Self.publish, channel: 1, properties: BasicProperties(), body: [], frameMax: 4096, into: &buffer)
        let frames = try Self.decodeAll(buffer, frameMax: 4096)
        #expect(
            frames == [
                .method(channel: 1, Self.publish),
                .header(channel: 1, ContentHeader(bodySize: 0, properties: BasicProperties())),
            ])
    }

    @Test(arguments: [0, 1, 4088, 4089, 3 * 4088 + 5])
    func nonContiguousBodiesEncodeToTheSameBytesAsAnArray(bodySize: Int) throws {
        func encode(_ body: some Collection<UInt8>) throws -> WireBuffer {
            var buffer = WireBuffer()
            try AMQPFrameEncoder.encodeContent(
                Self.publish, channel: 1, properties: BasicProperties(), body: body, frameMax: 4096, into: &buffer)
            return buffer
        }
        let lazyMapped = (0..<bodySize).lazy.map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
        #expect(lazyMapped.withContiguousStorageIfAvailable { _ in () } == nil)
        #expect(try encode(lazyMapped) == encode(patternedBody(count: bodySize)))
        let repeated = repeatElement(UInt8(0xAB), count: bodySize)
        #expect(repeated.withContiguousStorageIfAvailable { _ in () } == nil)
        #expect(try encode(repeated) == encode(Array(repeated)))
    }

    @Test func arraySliceBodyIsEncodedFromItsOwnIndices() throws {
        let whole = patternedBody(count: 10_000)
        let slice = whole[1234..<9876]
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeContent(
            Self.publish, channel: 1, properties: BasicProperties(), body: slice, frameMax: 4096, into: &buffer)
        let body = try Self.decodeAll(buffer, frameMax: 4096).dropFirst(2).flatMap { frame -> [UInt8] in
            guard case .body(_, let bytes) = frame else { return [] }
            return Array(bytes)
        }
        #expect(body[...] == slice)
    }

    @Test func failedContentEncodeLeavesTheBufferUnchanged() throws {
        var buffer = WireBuffer()
        AMQPFrameEncoder.writeHeartbeat(into: &buffer)
        _ = buffer.readInteger(as: UInt8.self)
        let before = buffer
        let tooLong = BasicProperties(contentType: "ok", appID: String(repeating: "a", count: 256))
        #expect {
            try AMQPFrameEncoder.encodeContent(
                Self.publish, channel: 1, properties: tooLong, body: [1, 2, 3], frameMax: 4096, into: &buffer)
        } throws: { ($0 as? AMQPCodecError)?.code == .shortStringTooLong }
        #expect(buffer == before)
    }

    @Test func methodFieldOf255BytesEncodesAnd256IsRejectedLeavingTheBufferUnchanged() throws {
        func declare(_ length: Int) -> AMQPMethod {
            .queue(.declare(.init(queue: String(repeating: "q", count: length), arguments: ["k": "v"])))
        }
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeMethod(declare(255), channel: 1, into: &buffer)
        #expect(try Self.decodeAll(buffer, frameMax: 4096) == [.method(channel: 1, declare(255))])
        let before = buffer
        #expect { try AMQPFrameEncoder.encodeMethod(declare(256), channel: 1, into: &buffer) } throws: {
            ($0 as? AMQPCodecError)?.code == .shortStringTooLong
        }
        #expect(buffer == before)
    }

    @Test func tableNestedTooDeepFailsTheMethodEncodeAndLeavesTheBufferUnchanged() throws {
        var buffer = WireBuffer(bytes: [0x01, 0x02])
        let method = AMQPMethod.exchange(.declare(.init(exchange: "x", arguments: FieldTableNestingTests.nested(65))))
        #expect { try AMQPFrameEncoder.encodeMethod(method, channel: 1, into: &buffer) } throws: {
            ($0 as? AMQPCodecError)?.code == .nestingTooDeep
        }
        #expect(buffer.readableBytesArray == [0x01, 0x02])
    }

    @Test func payloadSizeIsBackPatchedForPayloadsLongerThan255Bytes() throws {
        let method = AMQPMethod.connection(
            .startOk(.init(clientProperties: ["blob": .bytes(patternedBody(count: 70_000))])))
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeMethod(method, channel: 0, into: &buffer)
        let size = try #require(buffer.getInteger(at: 3, as: UInt32.self))
        #expect(Int(size) == buffer.readableBytes - 8)
        #expect(buffer.getInteger(at: buffer.readableBytes - 1, as: UInt8.self) == 0xCE)
        #expect(try Self.decodeAll(buffer, frameMax: 1 << 20) == [.method(channel: 0, method)])
    }
}
