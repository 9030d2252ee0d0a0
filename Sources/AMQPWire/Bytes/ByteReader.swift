/// A read-only cursor over an exact range of bytes: the codec decodes each frame payload through
/// one, so a field can never read past its frame, and "consumed whole" is `isAtEnd`.
///
/// Every `read*` returns `nil` when too few bytes remain (without moving); callers turn that into
/// a ``AMQPCodecError``. The reader shares the array it reads (no copy).
public struct ByteReader: Sendable {
    @usableFromInline let bytes: [UInt8]
    @usableFromInline var index: Int
    @usableFromInline let end: Int

    /// Reads `bytes[range]`.
    @inlinable
    public init(_ bytes: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= bytes.count, "range outside the bytes")
        self.bytes = bytes
        self.index = range.lowerBound
        self.end = range.upperBound
    }

    /// Reads all of `bytes`.
    @inlinable
    public init(_ bytes: [UInt8]) {
        self.init(bytes, range: 0..<bytes.count)
    }

    @inlinable public var remaining: Int { end - index }
    @inlinable public var isAtEnd: Bool { index == end }

    @inlinable
    public mutating func readInteger<T: FixedWidthInteger>(as: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard end - index >= size else { return nil }
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: index, as: T.self) }
        index += size
        return T(bigEndian: value)
    }

    /// Reads `length` bytes as a view into the shared array.
    @inlinable
    public mutating func readSlice(length: Int) -> ArraySlice<UInt8>? {
        guard length >= 0, end - index >= length else { return nil }
        defer { index += length }
        return bytes[index..<index + length]
    }

    /// Reads `length` bytes into a new array.
    @inlinable
    public mutating func readBytes(length: Int) -> [UInt8]? {
        readSlice(length: length).map(Array.init)
    }

    /// A reader over the next `length` bytes, which this reader skips.
    @inlinable
    public mutating func readSubReader(length: Int) -> ByteReader? {
        guard length >= 0, end - index >= length else { return nil }
        defer { index += length }
        return ByteReader(bytes, range: index..<index + length)
    }
}
