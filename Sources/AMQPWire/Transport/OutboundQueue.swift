/// Bytes queued for the socket: encoded frames in one contiguous buffer, and large message
/// bodies referenced where they are instead of copied in.
///
/// A large body's frames are laid out as "frame header in the buffer, body slice by reference,
/// frame end in the buffer"; the I/O thread writes all of it with one `sendmsg` over an iovec
/// per piece. Holding the body array keeps it alive (and, being a value, unchanged) until written.
struct OutboundQueue: Sendable {
    /// A piece of the byte stream: a range of an array (the buffer's storage, or a body).
    struct Piece: Sendable {
        var bytes: [UInt8]
        var range: Range<Int>
    }

    /// Bodies at least this large are referenced rather than copied.
    static let referenceThreshold = 64 << 10

    /// A sealed piece: a range of the buffer (as indices: holding the storage itself would make
    /// every later append copy it), or a referenced body slice.
    private enum Sealed: Sendable {
        case buffered(Range<Int>)
        case referenced(Piece)
    }

    private(set) var buffer: WireBuffer
    /// Pieces before the buffer's open tail; empty unless a body was referenced.
    private var sealed: [Sealed] = []
    /// Where the buffer's open tail starts (the bytes after the last sealed buffer range).
    private var tailStart = 0
    /// Bytes held by reference in `sealed`.
    private var referencedBytes = 0

    init(capacity: Int) { buffer = WireBuffer(capacity: capacity) }

    var readableBytes: Int { buffer.readableBytes + referencedBytes }
    var isEmpty: Bool { readableBytes == 0 }
    var hasReferences: Bool { !sealed.isEmpty }
    var capacity: Int { buffer.capacity }

    /// Everything queued, in order, as pieces. Call once nothing more is appended (the I/O thread
    /// does, after taking the queue): the buffer pieces share its storage.
    func pieces() -> [Piece] {
        guard hasReferences else {
            return buffer.readableBytes == 0
                ? [] : [Piece(bytes: buffer.storage, range: buffer.readerIndex..<buffer.writerIndex)]
        }
        var all: [Piece] = []
        all.reserveCapacity(sealed.count + 1)
        for piece in sealed {
            switch piece {
            case .buffered(let range): all.append(Piece(bytes: buffer.storage, range: range))
            case .referenced(let piece): all.append(piece)
            }
        }
        if buffer.writerIndex > tailStart {
            all.append(Piece(bytes: buffer.storage, range: tailStart..<buffer.writerIndex))
        }
        return all
    }

    /// Writes through the contiguous buffer (frames and small bodies).
    mutating func withBuffer<R, E: Error>(_ body: (inout WireBuffer) throws(E) -> R) throws(E) -> R {
        try body(&buffer)
    }

    /// Appends `bytes[range]` by reference, after the buffer's bytes so far.
    mutating func appendReference(_ bytes: [UInt8], _ range: Range<Int>) {
        if buffer.writerIndex > tailStart { sealed.append(.buffered(tailStart..<buffer.writerIndex)) }
        tailStart = buffer.writerIndex
        sealed.append(.referenced(Piece(bytes: bytes, range: range)))
        referencedBytes += range.count
    }

    /// Empties the queue, keeping the buffer's capacity (the pieces' references are dropped first,
    /// so the buffer's storage is not copied on reuse).
    mutating func clear() {
        sealed = []
        tailStart = 0
        referencedBytes = 0
        buffer.clear()
    }

    /// Undoes writes back to a mark taken with ``mark``.
    var mark: (writerIndex: Int, pieces: Int, referenced: Int, tailStart: Int) {
        (buffer.writerIndex, sealed.count, referencedBytes, tailStart)
    }

    mutating func rollBack(to mark: (writerIndex: Int, pieces: Int, referenced: Int, tailStart: Int)) {
        sealed.removeSubrange(mark.pieces...)
        referencedBytes = mark.referenced
        tailStart = mark.tailStart
        buffer.truncate(toWriterIndex: mark.writerIndex)
    }
}

extension AMQPFrameEncoder {
    /// ``encodeContent(_:channel:properties:body:frameMax:into:)`` into an outbound queue: a large
    /// `[UInt8]` body is referenced, not copied; anything else is copied into the buffer.
    static func encodeContent(
        _ method: AMQPMethod, channel: UInt16, properties: BasicProperties, body: some Collection<UInt8>,
        frameMax: UInt32, into queue: inout OutboundQueue
    ) throws(AMQPCodecError) {
        guard body.count >= OutboundQueue.referenceThreshold, let array = body as? [UInt8] else {
            try queue.withBuffer { (buffer) throws(AMQPCodecError) in
                try encodeContent(
                    method, channel: channel, properties: properties, body: body, frameMax: frameMax, into: &buffer)
            }
            return
        }
        let mark = queue.mark
        do {
            try queue.withBuffer { (buffer) throws(AMQPCodecError) in
                try encodeMethod(method, channel: channel, into: &buffer)
                // The header frame (size-checked) without a body: the body frames follow by reference.
                try encodeContentFrames(
                    channel: channel, properties: properties, body: EmptyCollection<UInt8>(), frameMax: frameMax,
                    into: &buffer, announcedBodySize: array.count)
            }
        } catch {
            queue.rollBack(to: mark)
            throw error
        }
        let chunk = frameMax == 0 ? array.count : max(1, Int(frameMax) - AMQPFrame.overhead)
        var offset = 0
        while offset < array.count {
            let end = min(offset + chunk, array.count)
            queue.withBuffer { buffer in
                buffer.writeInteger(AMQPFrame.FrameType.body)
                buffer.writeInteger(channel)
                buffer.writeInteger(UInt32(truncatingIfNeeded: end - offset))
            }
            queue.appendReference(array, offset..<end)
            queue.withBuffer { buffer in buffer.writeInteger(AMQPFrame.frameEnd) }
            offset = end
        }
    }
}
