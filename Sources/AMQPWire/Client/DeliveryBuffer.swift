import Synchronization

/// The bounded buffer between the I/O thread and one consumer's `for await` loop.
///
/// The I/O thread pushes; the consumer pops. A manual-ack consumer's buffer is bounded by the
/// prefetch (the broker sends no more unacknowledged messages), so it never touches the socket.
/// A noAck consumer's buffer (`pausesReads`) stops the connection reading when it holds
/// ``capacity`` deliveries, so TCP pushes back on the broker instead of memory growing; taking
/// deliveries below half of capacity resumes reading. (A read in progress may overshoot the
/// capacity by what it already decoded, at most one read's worth.)
final class DeliveryBuffer: Sendable {
    private struct State: Sendable {
        var items = RingBuffer<AMQPDelivery>(initialCapacity: 64)
        var waiter: CheckedContinuation<AMQPDelivery?, any Error>?
        /// Set once the stream ends: nil for a clean end, or the error to throw after the items.
        var end: Result<Void, AMQPError>?
        var readerPaused = false
    }

    let capacity: Int
    /// Whether a full buffer pauses the connection's reads (noAck consumers only).
    let pausesReads: Bool
    private let state = Lock(State())
    /// Called (outside the lock) when the buffer drains after it paused the reader.
    private let resumeReading: @Sendable () -> Void

    init(capacity: Int, pausesReads: Bool = true, resumeReading: @escaping @Sendable () -> Void) {
        self.capacity = max(1, capacity)
        self.pausesReads = pausesReads
        self.resumeReading = resumeReading
    }

    /// Whether reads paused for this buffer may go on: it drained to half, or it ended.
    var allowsReading: Bool {
        state.withLock { s in s.end != nil || s.items.count <= capacity / 2 }
    }

    enum PushResult { case accepted, full, ended }

    /// Adds deliveries in order, under one lock, waking the consumer at most once. `.full`:
    /// reading should pause; `.ended`: the stream is over and none was taken (the caller puts
    /// them back).
    func push(contentsOf deliveries: ArraySlice<AMQPDelivery>) -> PushResult {
        let (waiter, first, result) = state.withLock {
            s -> (CheckedContinuation<AMQPDelivery?, any Error>?, AMQPDelivery?, PushResult) in
            guard s.end == nil else { return (nil, nil, .ended) }
            for delivery in deliveries { s.items.append(delivery) }
            var waiter: CheckedContinuation<AMQPDelivery?, any Error>?
            var first: AMQPDelivery?
            if let w = s.waiter {
                s.waiter = nil
                waiter = w
                first = s.items.removeFirst()
            }
            if pausesReads && s.items.count >= capacity {
                s.readerPaused = true
                return (waiter, first, .full)
            }
            return (waiter, first, .accepted)
        }
        waiter?.resume(returning: first)
        return result
    }

    /// Ends the stream after the buffered deliveries; `error` is thrown once they are taken.
    func finish(_ error: AMQPError?) {
        let (waiter, resume) = state.withLock { s -> (CheckedContinuation<AMQPDelivery?, any Error>?, Bool) in
            guard s.end == nil else { return (nil, false) }
            s.end = error.map { .failure($0) } ?? .success(())
            let waiter = s.waiter
            s.waiter = nil
            let resume = s.readerPaused
            s.readerPaused = false
            return (waiter, resume)
        }
        if let waiter {
            if let error { waiter.resume(throwing: error) } else { waiter.resume(returning: nil) }
        }
        if resume { resumeReading() }
    }

    /// Takes every buffered delivery and ends the stream (the consumer went away).
    func drainAndEnd() -> [AMQPDelivery] {
        let (items, waiter, resume) = state.withLock { s in
            var items: [AMQPDelivery] = []
            while let item = s.items.removeFirst() { items.append(item) }
            if s.end == nil { s.end = .success(()) }
            let waiter = s.waiter
            s.waiter = nil
            let resume = s.readerPaused
            s.readerPaused = false
            return (items, waiter, resume)
        }
        waiter?.resume(returning: nil)
        if resume { resumeReading() }
        return items
    }

    /// Drops buffered deliveries that would need an ack: their connection failed, so their
    /// delivery tags are void and the broker redelivers them.
    func dropAcknowledgeable() {
        let resume = state.withLock { s -> Bool in
            var kept = RingBuffer<AMQPDelivery>(initialCapacity: 16)
            while let item = s.items.removeFirst() {
                if item.channel == nil { kept.append(item) }
            }
            s.items = kept
            let resume = s.readerPaused
            s.readerPaused = false
            return resume
        }
        if resume { resumeReading() }
    }

    var bufferedCount: Int { state.withLock { $0.items.count } }
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    static let secondIterator = AMQPError(
        .invalidArgument, "another task is already waiting on this consumer; iterate a consumer from one task")

    /// The next delivery, nil at a clean end; throws the stream's error, or `CancellationError`.
    func next() async throws -> AMQPDelivery? {
        enum Immediate {
            case item(AMQPDelivery, resume: Bool)
            case end(Result<Void, AMQPError>)
            case wait
        }
        let immediate = state.withLock { s -> Immediate in
            if let item = s.items.removeFirst() {
                var resume = false
                if s.readerPaused && s.items.count <= capacity / 2 {
                    s.readerPaused = false
                    resume = true
                }
                return .item(item, resume: resume)
            }
            if let end = s.end { return .end(end) }
            return .wait
        }
        switch immediate {
        case .item(let item, let resume):
            if resume { resumeReading() }
            return item
        case .end(let end):
            try end.get()
            return nil
        case .wait:
            break
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<AMQPDelivery?, any Error>) in
                enum Outcome {
                    case item(AMQPDelivery)
                    case end(Result<Void, AMQPError>)
                    case cancelled, waiting
                }
                let outcome = state.withLock { s -> Outcome in
                    if let item = s.items.removeFirst() { return .item(item) }
                    if let end = s.end { return .end(end) }
                    if Task.isCancelled { return .cancelled }
                    if s.waiter != nil { return .end(.failure(Self.secondIterator)) }
                    s.waiter = continuation
                    return .waiting
                }
                switch outcome {
                case .item(let item): continuation.resume(returning: item)
                case .end(.success): continuation.resume(returning: nil)
                case .end(.failure(let error)): continuation.resume(throwing: error)
                case .cancelled: continuation.resume(throwing: CancellationError())
                case .waiting: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                let w = s.waiter
                s.waiter = nil
                return w
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
