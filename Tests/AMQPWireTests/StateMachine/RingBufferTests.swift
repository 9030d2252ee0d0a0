import Testing

@testable import AMQPWire

@Suite struct RingBufferTests {
    func contents<T>(_ ring: RingBuffer<T>) -> [T] {
        (0..<ring.count).map { ring[offset: $0] }
    }

    @Test func emptyBufferHasNothingToRemove() {
        var ring = RingBuffer<Int>(initialCapacity: 0)
        #expect(ring.isEmpty)
        #expect(ring.first == nil)
        #expect(ring.removeFirst() == nil)
        #expect(ring.removeLast() == nil)
        ring.append(1)
        #expect(ring.count == 1)
        #expect(ring.first == 1)
    }

    @Test func isFirstInFirstOut() {
        var ring = RingBuffer<Int>(initialCapacity: 4)
        for i in 1...3 { ring.append(i) }
        #expect(ring.removeFirst() == 1)
        #expect(ring.removeFirst() == 2)
        ring.append(4)
        #expect(contents(ring) == [3, 4])
    }

    @Test func growsPastItsInitialCapacityKeepingOrder() {
        var ring = RingBuffer<Int>(initialCapacity: 2)
        for i in 0..<100 { ring.append(i) }
        #expect(ring.count == 100)
        #expect(contents(ring) == Array(0..<100))
        for i in 0..<100 { #expect(ring.removeFirst() == i) }
        #expect(ring.isEmpty)
    }

    @Test func growsWhileWrappedAround() {
        // Head in the middle of the storage and the tail wrapped to its start when it grows.
        var ring = RingBuffer<Int>(initialCapacity: 4)
        for i in 0..<4 { ring.append(i) }
        #expect(ring.removeFirst() == 0)
        #expect(ring.removeFirst() == 1)
        ring.append(4)
        ring.append(5)  // storage is full and wrapped: [4, 5, 2, 3]
        ring.append(6)  // grows
        #expect(contents(ring) == [2, 3, 4, 5, 6])
        #expect(ring.removeLast() == 6)
        #expect(ring.removeFirst() == 2)
        #expect(contents(ring) == [3, 4, 5])
    }

    @Test func removeLastTakesFromTheBackAcrossTheWrap() {
        var ring = RingBuffer<Int>(initialCapacity: 4)
        for i in 0..<4 { ring.append(i) }
        _ = ring.removeFirst()
        _ = ring.removeFirst()
        ring.append(4)  // wraps to index 0
        #expect(ring.removeLast() == 4)
        #expect(ring.removeLast() == 3)
        #expect(ring.removeLast() == 2)
        #expect(ring.removeLast() == nil)
    }

    @Test func subscriptReadsAndWritesRelativeToTheHead() {
        var ring = RingBuffer<String>(initialCapacity: 3)
        for s in ["a", "b", "c"] { ring.append(s) }
        _ = ring.removeFirst()
        ring.append("d")  // wrapped
        ring[offset: 2] = "D"
        #expect(ring[offset: 0] == "b")
        #expect(contents(ring) == ["b", "c", "D"])
    }

    @Test func optionalElementsKeepNilDistinctFromEmpty() {
        var ring = RingBuffer<Int?>(initialCapacity: 2)
        ring.append(nil)
        ring.append(1)
        #expect(ring.count == 2)
        let first = ring.removeFirst()
        #expect(first == .some(nil))
        #expect(ring.first == .some(1))
    }

    @Test func removeAllEmptiesAndTheBufferStaysUsable() {
        var ring = RingBuffer<Int>(initialCapacity: 4)
        for i in 0..<10 { ring.append(i) }
        _ = ring.removeFirst()
        ring.removeAll()
        #expect(ring.isEmpty)
        #expect(ring.first == nil)
        for i in 0..<5 { ring.append(i) }
        #expect(contents(ring) == Array(0..<5))
    }

    @Test(arguments: [UInt64(3), 99, 12345])
    func matchesAnArrayUnderRandomOperations(seed: UInt64) {
        var random = Xorshift(seed: seed)
        var ring = RingBuffer<Int>(initialCapacity: 1)
        var model: [Int] = []
        for step in 0..<4000 {
            switch random.next() % 10 {
            case 0...4:
                ring.append(step)
                model.append(step)
            case 5...7:
                #expect(ring.removeFirst() == (model.isEmpty ? nil : model.removeFirst()), "step \(step)")
            case 8:
                #expect(ring.removeLast() == model.popLast(), "step \(step)")
            default:
                if !model.isEmpty {
                    let offset = Int(random.next() % UInt64(model.count))
                    ring[offset: offset] = -step
                    model[offset] = -step
                }
            }
            #expect(ring.count == model.count)
            #expect(ring.first == model.first)
        }
        #expect(contents(ring) == model)
    }
}
