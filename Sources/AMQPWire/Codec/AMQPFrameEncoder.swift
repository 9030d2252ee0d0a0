/// Writes frames into a ``WireBuffer``. A failed encode leaves the buffer as it was.
public enum AMQPFrameEncoder {
    /// Writes one frame.
    public static func encode(_ frame: AMQPFrame, into buffer: inout WireBuffer) throws(AMQPCodecError) {
        switch frame {
        case .method(let channel, let method):
            try encodeMethod(method, channel: channel, into: &buffer)
        case .header(let channel, let header):
            try framed(AMQPFrame.FrameType.header, channel: channel, into: &buffer) { (b) throws(AMQPCodecError) in
                try header.encode(into: &b)
            }
        case .body(let channel, let bytes):
            writeBodyFrame(channel: channel, bytes, into: &buffer)
        case .heartbeat:
            writeHeartbeat(into: &buffer)
        }
    }

    public static func encodeMethod(_ method: AMQPMethod, channel: UInt16, into buffer: inout WireBuffer)
        throws(AMQPCodecError)
    {
        try framed(AMQPFrame.FrameType.method, channel: channel, into: &buffer) { (b) throws(AMQPCodecError) in
            try method.encode(into: &b)
        }
    }

    public static func writeHeartbeat(into buffer: inout WireBuffer) {
        buffer.writeInteger(AMQPFrame.FrameType.heartbeat)
        buffer.writeInteger(UInt16(0))
        buffer.writeInteger(UInt32(0))
        buffer.writeInteger(AMQPFrame.frameEnd)
    }

    /// Writes a method that carries content, its header and its body split into body frames that
    /// fit `frameMax`, all into `buffer` so they can go out in one write. An empty body sends no
    /// body frame. This is the publish hot path: one pass, no intermediate copies of the body.
    @inlinable
    public static func encodeContent(
        _ method: AMQPMethod, channel: UInt16, properties: BasicProperties, body: some Collection<UInt8>,
        frameMax: UInt32, into buffer: inout WireBuffer
    ) throws(AMQPCodecError) {
        let start = buffer.writerIndex
        do {
            try encodeMethod(method, channel: channel, into: &buffer)
            try encodeContentFrames(
                channel: channel, properties: properties, body: body, frameMax: frameMax, into: &buffer)
        } catch {
            buffer.truncate(toWriterIndex: start)
            throw error
        }
    }

    /// Writes the header frame and body frames of one message.
    @inlinable
    public static func encodeContentFrames(
        channel: UInt16, properties: BasicProperties, body: some Collection<UInt8>, frameMax: UInt32,
        into buffer: inout WireBuffer
    ) throws(AMQPCodecError) {
        try encodeContentFrames(
            channel: channel, properties: properties, body: body, frameMax: frameMax, into: &buffer,
            announcedBodySize: body.count)
    }

    /// Writes the header frame announcing `announcedBodySize`, then `body`'s frames (the body may be
    /// empty when its frames are written elsewhere, as the outbound queue does for large bodies).
    @inlinable
    static func encodeContentFrames(
        channel: UInt16, properties: BasicProperties, body: some Collection<UInt8>, frameMax: UInt32,
        into buffer: inout WireBuffer, announcedBodySize: Int
    ) throws(AMQPCodecError) {
        let bodySize = body.count
        let header = ContentHeader(bodySize: UInt64(announcedBodySize), properties: properties)
        let headerStart = buffer.writerIndex
        try framed(AMQPFrame.FrameType.header, channel: channel, into: &buffer) { (b) throws(AMQPCodecError) in
            try header.encode(into: &b)
        }
        // The broker closes the connection over a frame larger than frame_max; refuse it here.
        let headerSize = buffer.writerIndex - headerStart
        if frameMax > 0 && headerSize > Int(frameMax) {
            buffer.truncate(toWriterIndex: headerStart)
            throw AMQPCodecError(
                .invalidValue,
                "the message properties need a \(headerSize)-byte header frame; frame_max is \(frameMax) (send large data in the body)"
            )
        }
        guard bodySize > 0 else { return }
        // frame_max 0 means "no limit": one body frame.
        let chunk = frameMax == 0 ? bodySize : max(1, Int(frameMax) - AMQPFrame.overhead)
        buffer.reserveCapacity(buffer.writerIndex + bodySize + (bodySize / chunk + 1) * AMQPFrame.overhead)
        let done: Void? = body.withContiguousStorageIfAvailable { bytes in
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + chunk, bytes.count)
                writeBodyFrame(
                    channel: channel, UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[offset..<end])),
                    into: &buffer)
                offset = end
            }
        }
        if done == nil {
            var index = body.startIndex
            while index != body.endIndex {
                let end = body.index(index, offsetBy: chunk, limitedBy: body.endIndex) ?? body.endIndex
                writeBodyFrame(channel: channel, body[index..<end], into: &buffer)
                index = end
            }
        }
    }

    @inlinable
    static func writeBodyFrame(channel: UInt16, _ bytes: UnsafeRawBufferPointer, into buffer: inout WireBuffer) {
        buffer.writeInteger(AMQPFrame.FrameType.body)
        buffer.writeInteger(channel)
        buffer.writeInteger(UInt32(truncatingIfNeeded: bytes.count))
        buffer.writeBytes(bytes)
        buffer.writeInteger(AMQPFrame.frameEnd)
    }

    @inlinable
    static func writeBodyFrame<C: Collection<UInt8>>(channel: UInt16, _ bytes: C, into buffer: inout WireBuffer) {
        buffer.writeInteger(AMQPFrame.FrameType.body)
        buffer.writeInteger(channel)
        buffer.writeInteger(UInt32(truncatingIfNeeded: bytes.count))
        buffer.writeBytes(bytes)
        buffer.writeInteger(AMQPFrame.frameEnd)
    }

    /// Writes a frame whose payload `body` writes, back-patching the payload size.
    @inlinable
    static func framed(
        _ type: UInt8, channel: UInt16, into buffer: inout WireBuffer,
        _ body: (inout WireBuffer) throws(AMQPCodecError) -> Void
    ) throws(AMQPCodecError) {
        let start = buffer.writerIndex
        buffer.writeInteger(type)
        buffer.writeInteger(channel)
        let sizeIndex = buffer.reserveBytes(4)
        do {
            try body(&buffer)
        } catch {
            buffer.truncate(toWriterIndex: start)
            throw error
        }
        buffer.setInteger(UInt32(truncatingIfNeeded: buffer.writerIndex - sizeIndex - 4), at: sizeIndex)
        buffer.writeInteger(AMQPFrame.frameEnd)
    }
}
