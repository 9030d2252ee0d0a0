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
    mutating func decodeItem(from buffer: inout WireBuffer) throws(AMQPCodecError) -> InboundItem? {
        if let delivery = wholeDelivery(from: &buffer) { return delivery }
        return try decodeFrame(from: &buffer).map(InboundItem.frame)
    }

    /// A delivery whose method, header and body (in at most one body frame) are all in `buffer`,
    /// with nothing between them; the reader moves past the three frames. Anything else, including
    /// every malformed byte, is nil and leaves the reader where it was, so that the frame-by-frame
    /// decoder meets it and reports it the way it always has.
    mutating func wholeDelivery(from buffer: inout WireBuffer) -> InboundItem? {
        let storage = buffer.storage
        let start = buffer.readerIndex
        // A quick look before anything is decoded: a method frame for basic.deliver (60, 60).
        guard storage.count - start >= 11, storage[start] == AMQPFrame.FrameType.method,
            storage[start + 7] == 0, storage[start + 8] == 60, storage[start + 9] == 0, storage[start + 10] == 60,
            let method = frame(in: storage, at: start, type: AMQPFrame.FrameType.method, channel: nil)
        else { return nil }
        let channel = method.channel
        var reader = ByteReader(storage, range: method.payload.lowerBound + 4..<method.payload.upperBound)
        guard let deliver = readDeliver(&reader), reader.isAtEnd,
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

    /// `basic.deliver`'s arguments, as `Deliver(from:)` reads them, except that a consumer tag
    /// or routing key equal to the last one's is that same `String`: a stream's deliveries
    /// share one, instead of allocating one each (the broker's tags are 31 bytes, past the 15
    /// that fit in a `String` without an allocation).
    private mutating func readDeliver(_ reader: inout ByteReader) -> AMQPMethod.Basic.Deliver? {
        guard let consumerTag = reader.readShortString(reusing: &lastStrings.consumerTag),
            let deliveryTag = reader.readInteger(as: UInt64.self), let flags = reader.readInteger(as: UInt8.self),
            let exchange = reader.readShortString(reusing: &lastStrings.exchange),
            let routingKey = reader.readShortString(reusing: &lastStrings.routingKey)
        else { return nil }
        return .init(
            consumerTag: consumerTag, deliveryTag: deliveryTag, redelivered: flags & 1 != 0, exchange: exchange,
            routingKey: routingKey)
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

/// The strings of the last whole delivery, for ``AMQPFrameDecoder``'s fast path to reuse.
struct RecentDeliveryStrings: Sendable {
    var consumerTag = ""
    var exchange = ""
    var routingKey = ""
}

extension ByteReader {
    /// A short string; `last` itself when the bytes are its UTF-8, else a new one that replaces it.
    /// (Invalid UTF-8 decodes repaired, so it never equals `last`'s bytes and is decoded each time,
    /// as `readShortString` does.)
    fileprivate mutating func readShortString(reusing last: inout String) -> String? {
        guard let length = readInteger(as: UInt8.self), let bytes = readSlice(length: Int(length)) else { return nil }
        let same =
            last.utf8.count == bytes.count
            && last.utf8.withContiguousStorageIfAvailable { stored in
                bytes.withUnsafeBufferPointer { stored.elementsEqual($0) }
            } == true
        if same { return last }
        last = String(decoding: bytes, as: UTF8.self)
        return last
    }
}
