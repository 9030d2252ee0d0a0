import AMQPWire
import Testing

@Suite struct WireBufferTests {
    @Test func integersAreWrittenBigEndian() {
        var buffer = WireBuffer()
        buffer.writeInteger(UInt8(0x01))
        buffer.writeInteger(UInt16(0x0203))
        buffer.writeInteger(UInt32(0x0405_0607))
        buffer.writeInteger(UInt64(0x0809_0A0B_0C0D_0E0F))
        buffer.writeInteger(Int16(-2))
        #expect(buffer.readableBytesArray == Array(1...15) + [0xFF, 0xFE])
    }

    @Test func readMovesTheReaderAndGetDoesNot() {
        var buffer = WireBuffer(bytes: [0x12, 0x34, 0x56])
        #expect(buffer.getInteger(at: 1, as: UInt16.self) == 0x3456)
        #expect(buffer.readerIndex == 0)
        #expect(buffer.readInteger(as: UInt16.self) == 0x1234)
        #expect(buffer.readerIndex == 2)
        #expect(buffer.readableBytes == 1)
        #expect(buffer.readableBytesArray == [0x56])
    }

    @Test func shortReadReturnsNilAndLeavesTheReaderAlone() {
        var buffer = WireBuffer(bytes: [0x01, 0x02, 0x03])
        #expect(buffer.readInteger(as: UInt32.self) == nil)
        #expect(buffer.readBytes(length: 4) == nil)
        #expect(buffer.readBytes(length: -1) == nil)
        #expect(buffer.readerIndex == 0)
        #expect(buffer.getInteger(at: 2, as: UInt16.self) == nil)
        #expect(buffer.getInteger(at: -1, as: UInt8.self) == nil)
    }

    @Test func reservedBytesAreBackPatchedWithoutGrowing() {
        var buffer = WireBuffer()
        buffer.writeInteger(UInt8(0xAA))
        let index = buffer.reserveBytes(4)
        buffer.writeBytes([0x01, 0x02])
        buffer.setInteger(UInt32(2), at: index)
        #expect(index == 1)
        #expect(buffer.readableBytesArray == [0xAA, 0x00, 0x00, 0x00, 0x02, 0x01, 0x02])
    }

    /// Fixture: encoding 4 KiB publishes one after another into one write buffer reallocated it
    /// for every publish once it was past ~128 KiB (Array.reserveCapacity allocates exactly what
    /// is asked), copying megabytes per message and faulting in fresh pages.
    @Test func reservingALittleMoreEachTimeGrowsGeometrically() throws {
        var buffer = WireBuffer(capacity: 1 << 16)
        var reallocations = 0
        var capacity = buffer.capacity
        let body = [UInt8](repeating: 7, count: 4096)
        let publish = AMQPMethod.basic(.publish(.init(routingKey: "q")))
        for _ in 0..<2000 {
            try AMQPFrameEncoder.encodeContent(
                publish, channel: 1, properties: BasicProperties(), body: body, frameMax: 131_072, into: &buffer)
            if buffer.capacity != capacity {
                reallocations += 1
                capacity = buffer.capacity
            }
        }
        #expect(buffer.readableBytes > 8_000_000)
        // 64 KiB to 8 MB is 7 doublings.
        #expect(reallocations <= 8, "\(reallocations) reallocations for 2000 publishes")
    }

    @Test func truncateDropsBytesFromTheGivenWriterIndex() {
        var buffer = WireBuffer(bytes: [1, 2, 3, 4])
        buffer.truncate(toWriterIndex: 2)
        #expect(buffer.readableBytesArray == [1, 2])
        #expect(buffer.writerIndex == 2)
    }

    @Test func discardReadBytesKeepsTheUnreadBytes() {
        var buffer = WireBuffer(bytes: [1, 2, 3, 4, 5])
        _ = buffer.readBytes(length: 3)
        buffer.discardReadBytes()
        #expect(buffer.readerIndex == 0)
        #expect(buffer.readableBytesArray == [4, 5])
        _ = buffer.readBytes(length: 2)
        buffer.discardReadBytes()
        #expect(buffer.writerIndex == 0)
        buffer.writeInteger(UInt8(9))
        #expect(buffer.readInteger(as: UInt8.self) == 9)
    }

    @Test func byteReaderNeverReadsPastTheEndOfItsRange() {
        let bytes: [UInt8] = [0, 1, 2, 3, 4, 5]
        var reader = ByteReader(bytes, range: 1..<4)
        #expect(reader.remaining == 3)
        #expect(reader.readInteger(as: UInt32.self) == nil)
        #expect(reader.readInteger(as: UInt16.self) == 0x0102)
        #expect(reader.readSlice(length: 2) == nil)
        #expect(reader.readSlice(length: -1) == nil)
        #expect(reader.readBytes(length: 1) == [3])
        #expect(reader.isAtEnd)
        #expect(reader.readInteger(as: UInt8.self) == nil)
    }

    @Test func subReaderCoversExactlyTheNextBytesAndIsSkipped() throws {
        var reader = ByteReader([9, 1, 2, 3, 4])
        _ = reader.readInteger(as: UInt8.self)
        let next = reader.readSubReader(length: 2)
        var sub = try #require(next)
        #expect(reader.readBytes(length: 2) == [3, 4])
        #expect(sub.readBytes(length: 2) == [1, 2])
        #expect(sub.isAtEnd)
        #expect(reader.readSubReader(length: 1) == nil)
    }
}
