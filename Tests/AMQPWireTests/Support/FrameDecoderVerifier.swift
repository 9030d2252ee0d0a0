import AMQPWire

/// Checks a frame decoder against the ways bytes really arrive, in the style of SwiftNIO's
/// `ByteToMessageDecoderVerifier`: each input whole, each input one byte at a time, and all inputs
/// back to back. In every mode the decoder must produce exactly the expected frames and leave no
/// bytes over, and a `nil` must leave the reader where it was.
///
/// Byte by byte, the decoder sees every prefix of every frame, so a frame that comes out before
/// its last byte arrives shows as an unexpected frame, a throw or leftover bytes.
enum FrameDecoderVerifier {
    typealias Decode = (inout WireBuffer) throws(AMQPCodecError) -> AMQPFrame?

    struct Failure: Error, Equatable, CustomStringConvertible {
        enum Mode: String {
            case whole
            case byteByByte = "byte by byte"
            case concatenated
        }
        enum Kind: Error, Equatable {
            case wrongFrames(expected: [AMQPFrame], actual: [AMQPFrame])
            case leftoverBytes(Int)
            case nilMovedReader(from: Int, to: Int)
            case frameConsumedNothing(AMQPFrame)
            case threw(AMQPCodecError)
        }
        var mode: Mode
        /// Which input, or `nil` for the concatenation.
        var inputIndex: Int?
        var kind: Kind

        var description: String {
            "\(mode) feeding of input \(inputIndex.map(String.init) ?? "(all)"): \(kind)"
        }
    }

    static func verify(
        _ cases: [(input: [UInt8], expected: [AMQPFrame])], decoder: AMQPFrameDecoder = AMQPFrameDecoder()
    ) throws(Failure) {
        try verify(cases) { (buffer) throws(AMQPCodecError) in try decoder.decodeFrame(from: &buffer) }
    }

    /// Verifies any decode function; the verifier's own tests pass broken ones.
    static func verify(_ cases: [(input: [UInt8], expected: [AMQPFrame])], decode: Decode) throws(Failure) {
        for (index, testCase) in cases.enumerated() {
            try check(decodeWhole(testCase.input, decode), testCase.expected, .whole, index)
            try check(decodeByteByByte(testCase.input, decode), testCase.expected, .byteByByte, index)
        }
        try check(decodeWhole(cases.flatMap(\.input), decode), cases.flatMap(\.expected), .concatenated, nil)
    }

    private static func check(
        _ outcome: Result<(frames: [AMQPFrame], leftover: Int), Failure.Kind>, _ expected: [AMQPFrame],
        _ mode: Failure.Mode, _ inputIndex: Int?
    ) throws(Failure) {
        switch outcome {
        case .failure(let kind):
            throw Failure(mode: mode, inputIndex: inputIndex, kind: kind)
        case .success(let (frames, _)) where frames != expected:
            throw Failure(mode: mode, inputIndex: inputIndex, kind: .wrongFrames(expected: expected, actual: frames))
        case .success(let (_, leftover)) where leftover != 0:
            throw Failure(mode: mode, inputIndex: inputIndex, kind: .leftoverBytes(leftover))
        case .success:
            return
        }
    }

    private static func decodeWhole(_ input: [UInt8], _ decode: Decode)
        -> Result<(frames: [AMQPFrame], leftover: Int), Failure.Kind>
    {
        var buffer = WireBuffer(bytes: input)
        var frames: [AMQPFrame] = []
        if let kind = drain(&buffer, decode, into: &frames) { return .failure(kind) }
        return .success((frames, buffer.readableBytes))
    }

    private static func decodeByteByByte(_ input: [UInt8], _ decode: Decode)
        -> Result<(frames: [AMQPFrame], leftover: Int), Failure.Kind>
    {
        var buffer = WireBuffer()
        var frames: [AMQPFrame] = []
        for byte in input {
            buffer.writeInteger(byte)
            if let kind = drain(&buffer, decode, into: &frames) { return .failure(kind) }
            buffer.discardReadBytes()
        }
        return .success((frames, buffer.readableBytes))
    }

    /// Decodes until `nil`; returns what went wrong, if anything.
    private static func drain(_ buffer: inout WireBuffer, _ decode: Decode, into frames: inout [AMQPFrame])
        -> Failure.Kind?
    {
        while true {
            let before = buffer.readerIndex
            let frame: AMQPFrame?
            do {
                frame = try decode(&buffer)
            } catch {
                return .threw(error)
            }
            guard let frame else {
                return buffer.readerIndex == before ? nil : .nilMovedReader(from: before, to: buffer.readerIndex)
            }
            guard buffer.readerIndex > before else { return .frameConsumedNothing(frame) }
            frames.append(frame)
        }
    }
}
