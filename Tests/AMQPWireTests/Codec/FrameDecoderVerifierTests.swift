import AMQPWire
import Testing

/// The verifier is only worth its passes if it fails decoders that are wrong in each way it checks.
@Suite struct FrameDecoderVerifierTests {
    static let frames: [AMQPFrame] = [.heartbeat, .body(channel: 1, [1, 2, 3])]

    static func failure(
        _ cases: [(input: [UInt8], expected: [AMQPFrame])], decode: FrameDecoderVerifier.Decode? = nil
    ) -> FrameDecoderVerifier.Failure? {
        do {
            if let decode {
                try FrameDecoderVerifier.verify(cases, decode: decode)
            } else {
                try FrameDecoderVerifier.verify(cases)
            }
            return nil
        } catch {
            return error
        }
    }

    @Test func correctDecoderPasses() throws {
        #expect(Self.failure([(try Self.frames.encodedBytes(), Self.frames)]) == nil)
    }

    @Test func missingExpectedFrameFails() throws {
        let failure = Self.failure([(try Self.frames.encodedBytes(), [.heartbeat])])
        #expect(failure?.kind == .wrongFrames(expected: [.heartbeat], actual: Self.frames))
        #expect(failure?.mode == .whole)
    }

    @Test func leftoverPartialFrameFails() throws {
        let failure = Self.failure([(try Self.frames.encodedBytes() + [0x08, 0x00], Self.frames)])
        #expect(failure?.kind == .leftoverBytes(2))
    }

    @Test func decoderThatMovesTheReaderOnNilFailsByteByByte() throws {
        let failure = Self.failure([(try Self.frames.encodedBytes(), Self.frames)]) { (buffer) throws(AMQPCodecError) in
            let frame = try AMQPFrameDecoder().decodeFrame(from: &buffer)
            if frame == nil, buffer.readableBytes > 1 { buffer.moveReaderIndex(forwardBy: 1) }
            return frame
        }
        #expect(failure?.mode == .byteByByte)
        #expect(failure?.kind == .nilMovedReader(from: 0, to: 1))
    }

    @Test func decoderThatThrowsOnAPartialFrameFailsByteByByte() throws {
        let failure = Self.failure([(try Self.frames.encodedBytes(), Self.frames)]) { (buffer) throws(AMQPCodecError) in
            guard buffer.readableBytes == 0 || buffer.readableBytes >= 7 else {
                throw AMQPCodecError(.truncated, "no header yet")
            }
            return try AMQPFrameDecoder().decodeFrame(from: &buffer)
        }
        #expect(failure?.mode == .byteByByte)
        #expect(failure?.kind == .threw(AMQPCodecError(.truncated, "no header yet")))
    }

    @Test func decoderThatEmitsABodyBeforeItsLastByteFailsByteByByte() throws {
        let body = AMQPFrame.body(channel: 1, [1, 2, 3])
        let failure = Self.failure([(try body.encodedBytes(), [body])]) { (buffer) throws(AMQPCodecError) in
            // Emits whatever part of the payload has arrived once the header is complete.
            guard buffer.readableBytes > 7, let size = buffer.getInteger(at: buffer.readerIndex + 3, as: UInt32.self)
            else { return nil }
            let available = min(Int(size), buffer.readableBytes - 7)
            guard available < Int(size) else { return try AMQPFrameDecoder().decodeFrame(from: &buffer) }
            buffer.moveReaderIndex(forwardBy: 7)
            return .body(channel: 1, (buffer.readBytes(length: available) ?? [])[...])
        }
        #expect(failure?.mode == .byteByByte)
        #expect(failure?.kind == .wrongFrames(expected: [body], actual: [AMQPFrame.body(channel: 1, [1])]))
    }

    @Test func decoderThatReturnsAFrameWithoutConsumingFailsInsteadOfLooping() {
        let failure = Self.failure([([0x08], [.heartbeat])]) { (_) throws(AMQPCodecError) in .heartbeat }
        #expect(failure?.kind == .frameConsumedNothing(.heartbeat))
    }
}
