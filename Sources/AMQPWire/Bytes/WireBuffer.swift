/// A growable byte buffer with a reader index, in the style of SwiftNIO's `ByteBuffer`.
///
/// `write*` appends at the end; `read*` consumes from the reader index and returns `nil` when too few
/// bytes are readable (leaving the reader untouched); `get*(at:)` and `set*(at:)` neither move nor
/// grow. Integers are big-endian, as AMQP sends them.
///
/// The buffer is a value type over one `[UInt8]`; reuse one buffer across frames (``clear()``
/// keeps its capacity) so the steady state allocates nothing.
public struct WireBuffer: Sendable, Hashable {
    @usableFromInline var storage: [UInt8]
    @usableFromInline var _readerIndex: Int = 0
    /// The index of the next byte `read*` will consume.
    @inlinable public var readerIndex: Int { _readerIndex }

    /// Creates an empty buffer with room for `capacity` bytes before it must grow.
    @inlinable
    public init(capacity: Int = 0) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    /// Creates a buffer whose readable bytes are `bytes`.
    @inlinable
    public init(bytes: some Sequence<UInt8>) {
        storage = Array(bytes)
    }

    /// The index one past the last written byte.
    @inlinable public var writerIndex: Int { storage.count }
    /// How many bytes `read*` can still consume.
    @inlinable public var readableBytes: Int { storage.count - readerIndex }
    /// How many bytes the storage holds before it must grow.
    @inlinable public var capacity: Int { storage.capacity }
    /// The readable bytes, copied into an array.
    public var readableBytesArray: [UInt8] { Array(storage[readerIndex...]) }
    /// The readable bytes as a view into the buffer's storage (no copy).
    @inlinable public var readableView: ArraySlice<UInt8> { storage[readerIndex...] }

    /// Removes every byte, keeping the capacity.
    @inlinable
    public mutating func clear() {
        storage.removeAll(keepingCapacity: true)
        _readerIndex = 0
    }

    /// Drops the bytes before the reader index, so a long-lived inbound buffer does not grow forever.
    @inlinable
    public mutating func discardReadBytes() {
        if readerIndex == storage.count {
            clear()
        } else if readerIndex > 0 {
            storage.removeSubrange(0..<readerIndex)
            _readerIndex = 0
        }
    }

    /// Moves the reader index forward by `count` bytes, at most to the writer index.
    @inlinable
    public mutating func moveReaderIndex(forwardBy count: Int) {
        precondition(count >= 0 && count <= readableBytes, "moving past the readable bytes")
        _readerIndex += count
    }

    /// Makes room for at least `minimumCapacity` bytes. Growth is geometric (at least double the
    /// current capacity), as for appends: `Array.reserveCapacity` allocates exactly what it is asked
    /// for, so a caller reserving a little more before each write would reallocate and copy the
    /// whole buffer every time.
    @inlinable
    public mutating func reserveCapacity(_ minimumCapacity: Int) {
        guard minimumCapacity > storage.capacity else { return }
        storage.reserveCapacity(Swift.max(minimumCapacity, storage.capacity * 2))
    }

    /// Runs `body` over the readable bytes as raw memory (for a socket write).
    @inlinable
    public func withUnsafeReadableBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[readerIndex...])) }
    }

    // MARK: Writing

    @inlinable
    public mutating func writeInteger<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { storage.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func writeBytes(_ bytes: some Sequence<UInt8>) {
        storage.append(contentsOf: bytes)
    }

    @inlinable
    public mutating func writeBytes(_ bytes: UnsafeRawBufferPointer) {
        storage.append(contentsOf: bytes)
    }

    /// Writes `count` zero bytes and returns the index of the first, for a value back-patched later.
    @inlinable
    public mutating func reserveBytes(_ count: Int) -> Int {
        let index = storage.count
        storage.append(contentsOf: repeatElement(0, count: count))
        return index
    }

    /// Overwrites bytes already written; the buffer does not grow.
    @inlinable
    public mutating func setInteger<T: FixedWidthInteger>(_ value: T, at index: Int) {
        precondition(index >= 0 && index + MemoryLayout<T>.size <= storage.count, "set past the written bytes")
        storage.withUnsafeMutableBytes { $0.storeBytes(of: value.bigEndian, toByteOffset: index, as: T.self) }
    }

    // MARK: Reading

    @inlinable
    public func getInteger<T: FixedWidthInteger>(at index: Int, as: T.Type = T.self) -> T? {
        guard index >= 0, storage.count - index >= MemoryLayout<T>.size else { return nil }
        return T(bigEndian: storage.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index, as: T.self) })
    }

    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) -> T? {
        guard let value = getInteger(at: readerIndex, as: T.self) else { return nil }
        _readerIndex += MemoryLayout<T>.size
        return value
    }

    @inlinable
    public mutating func readBytes(length: Int) -> [UInt8]? {
        guard length >= 0, readableBytes >= length else { return nil }
        defer { _readerIndex += length }
        return Array(storage[readerIndex..<readerIndex + length])
    }
}

extension WireBuffer: CustomStringConvertible {
    public var description: String {
        "WireBuffer(readable: \(readableBytes), readerIndex: \(readerIndex))"
    }
}

extension WireBuffer {
    /// Drops written bytes from `index` on; used to undo a partly encoded frame after an error.
    @inlinable
    public mutating func truncate(toWriterIndex index: Int) {
        precondition(index >= readerIndex && index <= storage.count, "truncating outside the written bytes")
        storage.removeSubrange(index...)
    }
}
