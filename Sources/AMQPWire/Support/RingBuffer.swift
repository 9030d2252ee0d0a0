/// A FIFO queue on a circular buffer: O(1) append and removeFirst, reused storage.
/// (The standard library has no Deque and the package takes no dependencies.)
struct RingBuffer<Element>: Sendable where Element: Sendable {
    private var storage: [Element?]
    private var head = 0
    private(set) var count = 0

    init(initialCapacity: Int = 16) {
        storage = Array(repeating: nil, count: Swift.max(1, initialCapacity))
    }

    var isEmpty: Bool { count == 0 }
    var first: Element? { count == 0 ? nil : storage[head] }

    mutating func append(_ element: Element) {
        if count == storage.count { grow() }
        storage[(head + count) % storage.count] = element
        count += 1
    }

    @discardableResult
    mutating func removeFirst() -> Element? {
        guard count > 0 else { return nil }
        let element = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return element
    }

    @discardableResult
    mutating func removeLast() -> Element? {
        guard count > 0 else { return nil }
        let index = (head + count - 1) % storage.count
        let element = storage[index]
        storage[index] = nil
        count -= 1
        return element
    }

    /// The element `offset` places from the front.
    subscript(offset offset: Int) -> Element {
        get {
            precondition(offset >= 0 && offset < count, "ring buffer offset out of range")
            return storage[(head + offset) % storage.count]!
        }
        set {
            precondition(offset >= 0 && offset < count, "ring buffer offset out of range")
            storage[(head + offset) % storage.count] = newValue
        }
    }

    mutating func removeAll() {
        while removeFirst() != nil {}
        head = 0
    }

    private mutating func grow() {
        var bigger = [Element?](repeating: nil, count: storage.count * 2)
        for i in 0..<count { bigger[i] = storage[(head + i) % storage.count] }
        storage = bigger
        head = 0
    }
}
