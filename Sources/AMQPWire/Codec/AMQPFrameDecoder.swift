/// Turns bytes into frames, one at a time, with no I/O.
///
/// ``decodeFrame(from:)`` returns `nil` when the buffer does not yet hold a whole frame (the
/// buffer's reader is then untouched) and throws ``AMQPCodecError`` for bytes that can never
/// become a valid frame. The size in a frame's header is checked against ``maxFrameSize``
/// before anything is allocated for it, and every payload must be consumed exactly.
public struct AMQPFrameDecoder: Sendable {
    /// The largest frame accepted, counting the 8 bytes of framing: the negotiated frame_max.
    public var maxFrameSize: UInt32
    /// What the whole-delivery fast path reuses (see `decodeItem(from:)`).
    var lastStrings = RecentDeliveryStrings()

    public init(maxFrameSize: UInt32 = 131_072) {
        self.maxFrameSize = maxFrameSize
    }

    public func decodeFrame(from buffer: inout WireBuffer) throws(AMQPCodecError) -> AMQPFrame? {
        let start = buffer.readerIndex
        guard let type = buffer.getInteger(at: start, as: UInt8.self) else { return nil }
        switch type {
        case AMQPFrame.FrameType.method, AMQPFrame.FrameType.header, AMQPFrame.FrameType.body,
            AMQPFrame.FrameType.heartbeat:
            break
        case AMQPFrame.protocolHeader[0]:
            // A server that does not speak 0-9-1 answers with the protocol header it does speak.
            guard buffer.readableBytes >= 8 else { return nil }
            let magic = (1..<4).compactMap { buffer.getInteger(at: start + $0, as: UInt8.self) }
            guard magic == Array(AMQPFrame.protocolHeader[1..<4]) else {
                throw AMQPCodecError(.unknownFrameType, "frame type \(type) is not method, header, body or heartbeat")
            }
            let version = (5..<8).compactMap { buffer.getInteger(at: start + $0, as: UInt8.self) }
            throw AMQPCodecError(
                .protocolVersionMismatch,
                "the server answered with a protocol header for AMQP \(version.map(String.init).joined(separator: "-")); it does not accept 0-9-1"
            )
        default:
            throw AMQPCodecError(.unknownFrameType, "frame type \(type) is not method, header, body or heartbeat")
        }
        guard let channel = buffer.getInteger(at: start + 1, as: UInt16.self),
            let size = buffer.getInteger(at: start + 3, as: UInt32.self)
        else { return nil }
        let total = UInt64(size) + UInt64(AMQPFrame.overhead)
        guard total <= UInt64(maxFrameSize) else {
            throw AMQPCodecError(
                .frameTooLarge, "a frame of \(total) bytes on channel \(channel) exceeds frame_max \(maxFrameSize)")
        }
        guard buffer.readableBytes >= Int(total) else { return nil }
        let payloadStart = start + 7
        let payloadEnd = payloadStart + Int(size)
        guard buffer.getInteger(at: payloadEnd, as: UInt8.self) == AMQPFrame.frameEnd else {
            throw AMQPCodecError(
                .badFrameEnd, "frame on channel \(channel) does not end with 0xCE after its \(size)-byte payload")
        }
        let frame = try Self.decodePayload(type: type, channel: channel, buffer.storage, payloadStart..<payloadEnd)
        buffer.moveReaderIndex(forwardBy: Int(total))
        return frame
    }

    static func decodePayload(type: UInt8, channel: UInt16, _ storage: [UInt8], _ range: Range<Int>)
        throws(AMQPCodecError) -> AMQPFrame
    {
        switch type {
        case AMQPFrame.FrameType.method:
            var reader = ByteReader(storage, range: range)
            let method = try AMQPMethod.decode(from: &reader)
            try reader.expectEnd("\(method.id)")
            return .method(channel: channel, method)
        case AMQPFrame.FrameType.header:
            var reader = ByteReader(storage, range: range)
            let header = try ContentHeader(from: &reader)
            try reader.expectEnd("content header")
            return .header(channel: channel, header)
        case AMQPFrame.FrameType.body:
            return .body(channel: channel, storage[range])
        default:
            guard channel == 0 else {
                throw AMQPCodecError(.invalidValue, "a heartbeat frame on channel \(channel); heartbeats use channel 0")
            }
            guard range.isEmpty else {
                throw AMQPCodecError(.trailingBytes, "a heartbeat frame with a \(range.count)-byte payload")
            }
            return .heartbeat
        }
    }
}

extension ByteReader {
    func expectEnd(_ what: String) throws(AMQPCodecError) {
        guard isAtEnd else {
            throw AMQPCodecError(.trailingBytes, "\(what) payload has \(remaining) bytes after its last field")
        }
    }
}
