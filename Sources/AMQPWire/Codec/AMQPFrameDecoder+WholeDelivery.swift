/// What the connection's reader hands the state machine: one frame, or a whole delivery.
///
/// A consumer's stream is mostly deliveries of three frames each (basic.deliver, its content
/// header, one body frame). Decoding the three at once into the assembled message skips three
/// frame values, the content assembler's steps and two of the three channel lookups; the
/// connection treats it exactly as it would the three frames.
enum InboundItem: Sendable {
    case frame(AMQPFrame)
    /// `basic.deliver`, its header and its body, all on `channel`; the body is a copy.
    case delivery(channel: UInt16, ContentAssembler.Message)
}

extension AMQPFrameDecoder {
    /// The next item in `buffer`: a whole delivery when the buffer holds all of one, otherwise
    /// a frame, as ``decodeFrame(from:)`` decodes it (nil when no whole frame is there yet).
    func decodeItem(from buffer: inout WireBuffer) throws(AMQPCodecError) -> InboundItem? {
        if let delivery = wholeDelivery(from: &buffer) { return delivery }
        return try decodeFrame(from: &buffer).map(InboundItem.frame)
    }

    /// A delivery whose method, header and body (in at most one body frame) are all in `buffer`,
    /// with nothing between them; the reader moves past the three frames. Anything else, including
    /// every malformed byte, is nil and leaves the reader where it was, so that the frame-by-frame
    /// decoder meets it and reports it the way it always has.
    func wholeDelivery(from buffer: inout WireBuffer) -> InboundItem? {
        let storage = buffer.storage
        let start = buffer.readerIndex
        // A quick look before anything is decoded: a method frame for basic.deliver (60, 60).
        guard storage.count - start >= 11, storage[start] == AMQPFrame.FrameType.method,
            storage[start + 7] == 0, storage[start + 8] == 60, storage[start + 9] == 0, storage[start + 10] == 60,
            let method = frame(in: storage, at: start, type: AMQPFrame.FrameType.method, channel: nil)
        else { return nil }
        let channel = method.channel
        var reader = ByteReader(storage, range: method.payload.lowerBound + 4..<method.payload.upperBound)
        guard let deliver = try? AMQPMethod.Basic.Deliver(from: &reader), reader.isAtEnd,
            let head = frame(in: storage, at: method.end, type: AMQPFrame.FrameType.header, channel: channel)
        else { return nil }
        reader = ByteReader(storage, range: head.payload)
        guard let header = try? ContentHeader(from: &reader), reader.isAtEnd else { return nil }
        var end = head.end
        var body: [UInt8] = []
        if header.bodySize > 0 {
            guard let bodyFrame = frame(in: storage, at: head.end, type: AMQPFrame.FrameType.body, channel: channel),
                UInt64(bodyFrame.payload.count) == header.bodySize
            else { return nil }
            body = Array(storage[bodyFrame.payload])
            end = bodyFrame.end
        }
        buffer.moveReaderIndex(forwardBy: end - start)
        return .delivery(
            channel: channel, .init(method: .deliver(deliver), properties: header.properties, body: body))
    }

    /// The frame at `offset` when it is whole, of `type`, on `channel` (any when nil), within
    /// ``maxFrameSize`` and properly ended.
    private func frame(in storage: [UInt8], at offset: Int, type: UInt8, channel: UInt16?)
        -> (channel: UInt16, payload: Range<Int>, end: Int)?
    {
        guard storage.count - offset >= AMQPFrame.overhead, storage[offset] == type else { return nil }
        let id = UInt16(storage[offset + 1]) << 8 | UInt16(storage[offset + 2])
        var size = 0
        for i in 3..<7 { size = size << 8 | Int(storage[offset + i]) }
        guard channel == nil || channel == id, size + AMQPFrame.overhead <= Int(maxFrameSize),
            storage.count - offset >= size + AMQPFrame.overhead,
            storage[offset + 7 + size] == AMQPFrame.frameEnd
        else { return nil }
        return (id, offset + 7..<offset + 7 + size, offset + 7 + size + 1)
    }
}
