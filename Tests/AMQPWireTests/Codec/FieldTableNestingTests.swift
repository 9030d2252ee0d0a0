import AMQPWire
import Testing

@Suite struct FieldTableNestingTests {
    /// `levels` containers, each holding the next: all tables, or with arrays alternating in when
    /// `mixed`. The outermost and innermost are tables.
    static func nested(_ levels: Int, mixed: Bool = false) -> FieldTable {
        guard levels > 1 else { return [:] }
        var value = FieldValue.table([:])
        for level in 1..<(levels - 1) {
            value = mixed && level % 2 == 1 ? .array([value]) : .table(["k": value])
        }
        return ["k": value]
    }

    /// `levels` nested tables as bytes, built without the encoder, which refuses to go past 64.
    static func nestedBytes(_ levels: Int) -> [UInt8] {
        var bytes: [UInt8] = [0x00, 0x00, 0x00, 0x00]
        for _ in 1..<levels {
            let entry: [UInt8] = [0x01, 0x6B, 0x46] + bytes
            bytes = withUnsafeBytes(of: UInt32(entry.count).bigEndian, Array.init) + entry
        }
        return bytes
    }

    @Test func sixtyFourNestedTablesDecodeAndSixtyFiveAreRejected() throws {
        var reader = ByteReader(Self.nestedBytes(64))
        #expect(try reader.readFieldTable() == Self.nested(64))
        var tooDeep = ByteReader(Self.nestedBytes(65))
        #expect { try tooDeep.readFieldTable() } throws: { ($0 as? AMQPCodecError)?.code == .nestingTooDeep }
    }

    @Test(arguments: [false, true])
    func sixtyFourNestedContainersEncodeAndSixtyFiveAreRejected(mixed: Bool) throws {
        let deepest = Self.nested(64, mixed: mixed)
        #expect(try FieldTableTests.roundTrip(deepest).decoded == deepest)
        var buffer = WireBuffer()
        #expect { try buffer.writeFieldTable(Self.nested(65, mixed: mixed)) } throws: {
            ($0 as? AMQPCodecError)?.code == .nestingTooDeep
        }
        #expect(buffer.readableBytes == 0)
    }

    @Test func nestingHelpersBuildTheDepthTheyAreAskedFor() throws {
        #expect(Self.nestedBytes(2) == [0x00, 0x00, 0x00, 0x07, 0x01, 0x6B, 0x46, 0x00, 0x00, 0x00, 0x00])
        #expect(Self.nested(2) == ["k": .table([:])])
        #expect(Self.nested(3, mixed: true) == ["k": .array([.table([:])])])
    }
}
