import Synchronization

/// Fans values out to any number of subscribers, each with its own bounded buffer that drops its
/// oldest value when full (for events and returned messages: a slow or absent reader must never
/// stall the connection). Each subscription is an `AsyncSequence`.
final class Broadcast<Element: Sendable>: Sendable {
    private struct State {
        var subscribers: [Int: Subscriber] = [:]
        var nextID = 0
        var finished = false
    }

    private struct Subscriber {
        var items = RingBuffer<Element>(initialCapacity: 8)
        var waiter: CheckedContinuation<Element?, Never>?
        var dropped = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = max(1, capacity) }

    func publish(_ element: Element) {
        let waiters = state.withLock { s -> [CheckedContinuation<Element?, Never>] in
            var waiters: [CheckedContinuation<Element?, Never>] = []
            for id in s.subscribers.keys {
                if let waiter = s.subscribers[id]!.waiter {
                    s.subscribers[id]!.waiter = nil
                    waiters.append(waiter)
                } else {
                    if s.subscribers[id]!.items.count >= capacity {
                        s.subscribers[id]!.items.removeFirst()
                        s.subscribers[id]!.dropped += 1
                    }
                    s.subscribers[id]!.items.append(element)
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: element) }
    }

    /// Ends every subscription (after what it has buffered); later subscriptions end at once.
    func finish() {
        let waiters = state.withLock { s -> [CheckedContinuation<Element?, Never>] in
            s.finished = true
            var waiters: [CheckedContinuation<Element?, Never>] = []
            for id in s.subscribers.keys {
                if let waiter = s.subscribers[id]?.waiter {
                    // Taken out, so an unsubscribe or a cancellation cannot resume it again.
                    s.subscribers[id]?.waiter = nil
                    waiters.append(waiter)
                }
            }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    /// Subscribers currently waiting for a value (for tests).
    var waitingSubscribers: Int { state.withLock { s in s.subscribers.values.filter { $0.waiter != nil }.count } }

    func subscribe() -> Int {
        state.withLock { s in
            let id = s.nextID
            s.nextID += 1
            if !s.finished { s.subscribers[id] = Subscriber() }
            return id
        }
    }

    func unsubscribe(_ id: Int) {
        let waiter = state.withLock { s in s.subscribers.removeValue(forKey: id)?.waiter }
        waiter?.resume(returning: nil)
    }

    func next(_ id: Int) async -> Element? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Element?, Never>) in
                let immediate = state.withLock { s -> Element?? in
                    guard s.subscribers[id] != nil else { return .some(nil) }
                    if let item = s.subscribers[id]!.items.removeFirst() { return .some(item) }
                    // Finished, cancelled, or a second task iterating the same subscription: it ends.
                    if s.finished || Task.isCancelled || s.subscribers[id]!.waiter != nil { return .some(nil) }
                    s.subscribers[id]!.waiter = continuation
                    return .none
                }
                if case .some(let value) = immediate { continuation.resume(returning: value) }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Element?, Never>? in
                let w = s.subscribers[id]?.waiter
                s.subscribers[id]?.waiter = nil
                return w
            }
            waiter?.resume(returning: nil)
        }
    }
}

/// One subscription to a ``Broadcast``: an `AsyncSequence` that ends when the source finishes
/// or the iterating task is cancelled. Holds at most the broadcast's capacity; older values are
/// dropped when the reader falls behind.
public struct BroadcastSubscription<Element: Sendable>: AsyncSequence, Sendable {
    final class Token: Sendable {
        let broadcast: Broadcast<Element>
        let id: Int
        init(_ broadcast: Broadcast<Element>) {
            self.broadcast = broadcast
            self.id = broadcast.subscribe()
        }
        deinit { broadcast.unsubscribe(id) }
    }

    let token: Token

    init(_ broadcast: Broadcast<Element>) { token = Token(broadcast) }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let token: Token
        public mutating func next() async -> Element? { await token.broadcast.next(token.id) }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(token: token) }
}
