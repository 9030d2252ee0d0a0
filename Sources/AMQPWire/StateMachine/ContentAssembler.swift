/// Puts a message back together from its method frame, header frame and body frames.
///
/// A header announcing more than `maxMessageSize` is refused before any body byte is stored, so
/// a peer cannot make the client allocate without bound. A body may not run past its declared size.
struct ContentAssembler: Sendable {
    /// The method a content belongs to.
    enum ContentMethod: Sendable, Hashable {
        case deliver(AMQPMethod.Basic.Deliver)
        case `return`(AMQPMethod.Basic.Return)
        case getOk(AMQPMethod.Basic.GetOk)
    }

    struct Message: Sendable, Hashable {
        var method: ContentMethod
        var properties: BasicProperties
        var body: [UInt8]
    }

    enum Outcome: Sendable, Hashable {
        case incomplete
        case complete(Message)
        /// The header announced a body over the limit; nothing was stored.
        case tooLarge(ContentMethod, bodySize: UInt64)
    }

    private enum State: Sendable {
        case idle
        case awaitingHeader(ContentMethod)
        case awaitingBody(ContentMethod, BasicProperties, body: [UInt8], size: Int)
    }

    private var state: State = .idle
    let maxMessageSize: Int

    init(maxMessageSize: Int) { self.maxMessageSize = maxMessageSize }

    var isIdle: Bool {
        if case .idle = state { return true }
        return false
    }

    /// A content-carrying method arrived. Throws when the previous content is unfinished.
    mutating func start(_ method: ContentMethod) throws(AMQPCodecError) {
        guard case .idle = state else {
            throw AMQPCodecError(.invalidValue, "a new content method arrived before the previous content was complete")
        }
        state = .awaitingHeader(method)
    }

    mutating func header(_ header: ContentHeader) throws(AMQPCodecError) -> Outcome {
        guard case .awaitingHeader(let method) = state else {
            throw AMQPCodecError(.invalidValue, "a content header arrived without a method that carries content")
        }
        guard header.bodySize <= UInt64(maxMessageSize) else {
            state = .idle
            return .tooLarge(method, bodySize: header.bodySize)
        }
        let size = Int(header.bodySize)
        if size == 0 {
            state = .idle
            return .complete(Message(method: method, properties: header.properties, body: []))
        }
        state = .awaitingBody(method, header.properties, body: [], size: size)
        return .incomplete
    }

    /// A whole message decoded at once (see ``InboundItem``): what `start`, `header` and `body`
    /// would make of its frames, when the assembler is idle.
    func whole(_ message: Message) -> Outcome {
        precondition(isIdle, "a whole message while another is being assembled")
        guard message.body.count <= maxMessageSize else {
            return .tooLarge(message.method, bodySize: UInt64(message.body.count))
        }
        return .complete(message)
    }

    /// Takes a body frame's bytes (copied: the slice may be a view into the reader's buffer).
    mutating func body(_ bytes: ArraySlice<UInt8>) throws(AMQPCodecError) -> Outcome {
        guard case .awaitingBody(let method, let properties, var body, let size) = state else {
            throw AMQPCodecError(.invalidValue, "a body frame arrived without a content header")
        }
        state = .idle  // drop our reference so `body` is uniquely owned while it grows
        guard body.count + bytes.count <= size else {
            throw AMQPCodecError(
                .invalidValue, "body frames carry \(body.count + bytes.count) bytes; the header announced \(size)")
        }
        if body.isEmpty && bytes.count == size {
            // The common case: the whole body in one frame, copied once.
            return .complete(Message(method: method, properties: properties, body: Array(bytes)))
        }
        if body.isEmpty { body.reserveCapacity(min(size, 16 << 20)) }
        body.append(contentsOf: bytes)
        if body.count == size {
            return .complete(Message(method: method, properties: properties, body: body))
        }
        state = .awaitingBody(method, properties, body: body, size: size)
        return .incomplete
    }
}
