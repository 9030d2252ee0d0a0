import AMQPWire
import Testing

@Suite struct FieldTableTests {
    /// One value of every case, at the edges of its range where it has one.
    static let everyCase: [FieldValue] = [
        .boolean(false), .boolean(true), .int8(.min), .uint8(.max), .int16(.min), .uint16(.max), .int32(.min),
        .uint32(.max), .int64(.min), .int64(.max), .float(-0.0), .float(.greatestFiniteMagnitude), .double(.pi),
        .double(-.leastNonzeroMagnitude), .decimal(AMQPDecimal(scale: 255, value: .min)), .string(""),
        .string("grüße 🐇"), .stringBytes([0xFF, 0x00, 0xC3]), .array([]), .array([.void, .string("a"), .array([])]),
        .timestamp(AMQPTimestamp(secondsSince1970: .max)), .table([:]), .table(["nested": .table(["x": .int8(1)])]),
        .void, .bytes([]), .bytes([0x00, 0xFF]),
    ]

    static func roundTrip(_ table: FieldTable) throws -> (bytes: [UInt8], decoded: FieldTable) {
        var buffer = WireBuffer()
        try buffer.writeFieldTable(table)
        var reader = ByteReader(buffer.readableBytesArray)
        let decoded = try reader.readFieldTable()
        #expect(reader.isAtEnd)
        return (buffer.readableBytesArray, decoded)
    }

    @Test(arguments: everyCase)
    func valueRoundTripsInATableAndInAnArray(_ value: FieldValue) throws {
        let table: FieldTable = ["value": value, "array": .array([value, value])]
        #expect(try Self.roundTrip(table).decoded == table)
    }

    @Test func samplesCoverEveryTypeTag() {
        #expect(Set(Self.everyCase.map(\.typeTag)) == Set("tbBsuIilfdDSATFVx".utf8))
    }

    @Test func entriesKeepTheirOrderAndRepeatedKeys() throws {
        let bytes: [UInt8] = [
            0x00, 0x00, 0x00, 0x0B,
            0x01, 0x62, 0x42, 0x01,  // "b": uint8 1
            0x01, 0x61, 0x56,  // "a": void
            0x01, 0x62, 0x42, 0x02,  // "b": uint8 2
        ]
        var reader = ByteReader(bytes)
        let table = try reader.readFieldTable()
        #expect(table.map(\.key) == ["b", "a", "b"])
        #expect(table["b"] == .uint8(1))
        var buffer = WireBuffer()
        try buffer.writeFieldTable(table)
        #expect(buffer.readableBytesArray == bytes)
    }

    @Test func nonUTF8LongStringDecodesAsStringBytesAndReencodesByteExact() throws {
        let bytes: [UInt8] = [
            0x00, 0x00, 0x00, 0x0A,
            0x01, 0x73, 0x53, 0x00, 0x00, 0x00, 0x03, 0x61, 0xC3, 0x28,  // "s": 'S' "a" then an invalid 2-byte sequence
        ]
        var reader = ByteReader(bytes)
        let table = try reader.readFieldTable()
        #expect(table["s"] == .stringBytes([0x61, 0xC3, 0x28]))
        var buffer = WireBuffer()
        try buffer.writeFieldTable(table)
        #expect(buffer.readableBytesArray == bytes)
    }

    @Test(arguments: [0x7FC0_0000, 0xFFC0_0001, 0x7F80_0001, 0x7F80_0000, 0xFF80_0000, 0x8000_0000] as [UInt32])
    func floatBitsSurviveARoundTripExactly(_ bits: UInt32) throws {
        let table: FieldTable = ["f": .float(Float(bitPattern: bits))]
        let (bytes, decoded) = try Self.roundTrip(table)
        #expect(Array(bytes.suffix(4)) == withUnsafeBytes(of: bits.bigEndian, Array.init))
        guard case .float(let value) = decoded["f"] else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(value.bitPattern == bits)
    }

    @Test(
        arguments: [0x7FF8_0000_0000_0000, 0xFFF0_0000_0000_0001, 0x7FF0_0000_0000_0000, 0xFFF0_0000_0000_0000]
            as [UInt64])
    func doubleBitsSurviveARoundTripExactly(_ bits: UInt64) throws {
        let (_, decoded) = try Self.roundTrip(["d": .double(Double(bitPattern: bits))])
        guard case .double(let value) = decoded["d"] else {
            Issue.record("decoded \(decoded)")
            return
        }
        #expect(value.bitPattern == bits)
    }

    @Test func nanValuesEqualThemselvesSoADecodedTableEqualsItsSource() throws {
        let table: FieldTable = ["f": .float(.nan), "d": .double(-.nan), "a": .array([.double(.signalingNaN)])]
        #expect(try Self.roundTrip(table).decoded == table)
        #expect(Set([table, table]).count == 1)
    }

    @Test func zeroAndNegativeZeroAreDifferentValuesBecauseTheirBytesDiffer() {
        #expect(FieldValue.double(0.0) != FieldValue.double(-0.0))
        #expect(FieldValue.float(0.0) != FieldValue.float(-0.0))
    }

    @Test func literalsBuildTablesInSourceOrder() {
        let table: FieldTable = ["a": 1, "b": "x", "c": true, "d": 1.5, "e": [1, "y"]]
        #expect(
            table.entries == [
                .init(key: "a", value: .int64(1)), .init(key: "b", value: .string("x")),
                .init(key: "c", value: .boolean(true)), .init(key: "d", value: .double(1.5)),
                .init(key: "e", value: .array([.int64(1), .string("y")])),
            ])
    }

    @Test func settingAKeyReplacesItsFirstEntryAndNilRemovesEveryEntry() {
        var table = FieldTable([.init(key: "k", value: 1), .init(key: "x", value: 2), .init(key: "k", value: 3)])
        table["k"] = "new"
        #expect(table.entries.map(\.value) == ["new", 2, 3])
        table["k"] = nil
        #expect(table.map(\.key) == ["x"])
        table["z"] = .void
        #expect(table.map(\.key) == ["x", "z"])
    }

    @Test func booleanOctetOtherThanZeroIsTrue() throws {
        var reader = ByteReader([0x00, 0x00, 0x00, 0x04, 0x01, 0x62, 0x74, 0x02])
        #expect(try reader.readFieldTable() == ["b": true])
    }

    @Test func unknownTypeTagIsRejected() {
        // 'U' is the 0-9-1 spec's signed 16-bit tag, which RabbitMQ does not use.
        for tag in [UInt8(ascii: "Z"), UInt8(ascii: "U"), 0x00] {
            var reader = ByteReader([0x00, 0x00, 0x00, 0x05, 0x01, 0x6B, tag, 0x00, 0x00])
            #expect { try reader.readFieldTable() } throws: { ($0 as? AMQPCodecError)?.code == .unknownFieldType }
        }
    }

    @Test func tableLengthPastTheEndIsTruncated() {
        var reader = ByteReader([0x00, 0x00, 0x00, 0x09, 0x01, 0x6B, 0x56])
        #expect { try reader.readFieldTable() } throws: { ($0 as? AMQPCodecError)?.code == .truncated }
    }

    @Test func valueRunningPastItsTableIsTruncatedEvenWhenMoreBytesFollow() {
        // The table says 4 bytes, so the int32's last bytes lie outside it.
        var reader = ByteReader([0x00, 0x00, 0x00, 0x04, 0x01, 0x6B, 0x49, 0x00, 0x00, 0x00, 0x01])
        #expect { try reader.readFieldTable() } throws: { ($0 as? AMQPCodecError)?.code == .truncated }
    }

    @Test func keyOf255BytesEncodesAndOf256BytesIsRejectedLeavingTheBufferUnchanged() throws {
        var buffer = WireBuffer(bytes: [0xAB])
        try buffer.writeFieldTable([String(repeating: "k", count: 255): .void])
        #expect(buffer.readableBytes == 1 + 4 + 1 + 255 + 1)
        let before = buffer
        #expect { try buffer.writeFieldTable(["ok": 1, String(repeating: "k", count: 256): .void]) } throws: {
            ($0 as? AMQPCodecError)?.code == .shortStringTooLong
        }
        #expect(buffer == before)
    }

    /// Short strings are decoded leniently (bad bytes become U+FFFD, as the Java client does), so
    /// one odd header key does not cost the connection. The chosen price: such a repaired string
    /// may no longer fit a short string, and re-encoding it is a clear error, not a crash.
    @Test func nonUTF8ShortStringIsRepairedAndReencodingItFailsClearly() throws {
        // A 257-byte table: key length 255, 255 bytes that are never UTF-8, 'V'.
        let bytes: [UInt8] = [0x00, 0x00, 0x01, 0x01, 0xFF] + Array(repeating: 0xFF, count: 255) + [0x56]
        var reader = ByteReader(bytes)
        let table = try reader.readFieldTable()
        #expect(table.first?.key == String(repeating: "\u{FFFD}", count: 255))
        var buffer = WireBuffer()
        #expect { try buffer.writeFieldTable(table) } throws: {
            ($0 as? AMQPCodecError)?.code == .shortStringTooLong
        }
        #expect(buffer.readableBytes == 0)
    }
}
