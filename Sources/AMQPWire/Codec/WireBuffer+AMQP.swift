// Encoding of AMQP's primitive domains: short and long strings, field tables and arrays.

extension WireBuffer {
    /// Tables and arrays may nest at most this deep; deeper input is refused instead of recursing
    /// until the stack runs out.
    static let maxNestingDepth = 64

    /// Writes a short string: one length octet, then UTF-8. Longer than 255 bytes throws.
    @inlinable
    public mutating func writeShortString(_ string: String, field: StaticString = "short string")
        throws(AMQPCodecError)
    {
        let count = string.utf8.count
        guard count <= 255 else {
            throw AMQPCodecError(
                .shortStringTooLong, "\(field) is \(count) bytes; AMQP short strings hold at most 255")
        }
        writeInteger(UInt8(truncatingIfNeeded: count))
        writeBytes(string.utf8)
    }

    /// Writes a long string: a 32-bit length, then the bytes.
    @inlinable
    public mutating func writeLongString(_ bytes: some Collection<UInt8>) throws(AMQPCodecError) {
        guard let count = UInt32(exactly: bytes.count) else {
            throw AMQPCodecError(.invalidValue, "a long string of \(bytes.count) bytes does not fit a 32-bit length")
        }
        writeInteger(count)
        writeBytes(bytes)
    }

    @inlinable
    public mutating func writeLongString(_ string: String) throws(AMQPCodecError) {
        try writeLongString(string.utf8)
    }

    /// Writes a field table with its 32-bit length prefix. On error nothing is written.
    public mutating func writeFieldTable(_ table: FieldTable) throws(AMQPCodecError) {
        let start = writerIndex
        do {
            try writeFieldTable(table, depth: 0)
        } catch {
            truncate(toWriterIndex: start)
            throw error
        }
    }

    /// Writes a table's entries without the length prefix (AMQPLAIN's response is encoded this way).
    mutating func writeFieldTableEntries(_ table: FieldTable, depth: Int) throws(AMQPCodecError) {
        for entry in table.entries {
            try writeShortString(entry.key, field: "field table key")
            try writeFieldValue(entry.value, depth: depth)
        }
    }

    mutating func writeFieldTable(_ table: FieldTable, depth: Int) throws(AMQPCodecError) {
        guard depth < Self.maxNestingDepth else {
            throw AMQPCodecError(.nestingTooDeep, "field tables nested deeper than \(Self.maxNestingDepth)")
        }
        let lengthIndex = reserveBytes(4)
        try writeFieldTableEntries(table, depth: depth + 1)
        try patchLength(at: lengthIndex)
    }

    mutating func writeFieldArray(_ values: [FieldValue], depth: Int) throws(AMQPCodecError) {
        guard depth < Self.maxNestingDepth else {
            throw AMQPCodecError(.nestingTooDeep, "field arrays nested deeper than \(Self.maxNestingDepth)")
        }
        let lengthIndex = reserveBytes(4)
        for value in values { try writeFieldValue(value, depth: depth + 1) }
        try patchLength(at: lengthIndex)
    }

    private mutating func patchLength(at lengthIndex: Int) throws(AMQPCodecError) {
        guard let length = UInt32(exactly: writerIndex - lengthIndex - 4) else {
            throw AMQPCodecError(.invalidValue, "a field table larger than 4 GiB")
        }
        setInteger(length, at: lengthIndex)
    }

    mutating func writeFieldValue(_ value: FieldValue, depth: Int) throws(AMQPCodecError) {
        writeInteger(value.typeTag)
        switch value {
        case .boolean(let v): writeInteger(UInt8(v ? 1 : 0))
        case .int8(let v): writeInteger(v)
        case .uint8(let v): writeInteger(v)
        case .int16(let v): writeInteger(v)
        case .uint16(let v): writeInteger(v)
        case .int32(let v): writeInteger(v)
        case .uint32(let v): writeInteger(v)
        case .int64(let v): writeInteger(v)
        case .float(let v): writeInteger(v.bitPattern)
        case .double(let v): writeInteger(v.bitPattern)
        case .decimal(let v):
            writeInteger(v.scale)
            writeInteger(v.value)
        case .string(let v): try writeLongString(v)
        case .stringBytes(let v), .bytes(let v): try writeLongString(v)
        case .array(let v): try writeFieldArray(v, depth: depth)
        case .timestamp(let v): writeInteger(v.secondsSince1970)
        case .table(let v): try writeFieldTable(v, depth: depth)
        case .void: break
        }
    }
}

extension ByteReader {
    @inlinable
    mutating func readInteger<T: FixedWidthInteger>(_ field: StaticString) throws(AMQPCodecError) -> T {
        guard let value: T = readInteger() else {
            throw AMQPCodecError(.truncated, "\(field) runs past the end of its frame")
        }
        return value
    }

    /// Reads a short string; bytes that are not UTF-8 are repaired with U+FFFD, as the Java client does.
    @inlinable
    public mutating func readShortString(_ field: StaticString = "short string") throws(AMQPCodecError) -> String {
        let length: UInt8 = try readInteger(field)
        guard let bytes = readSlice(length: Int(length)) else {
            throw AMQPCodecError(.truncated, "\(field) of \(length) bytes runs past the end of its frame")
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Reads a long string's bytes.
    @inlinable
    public mutating func readLongString(_ field: StaticString = "long string") throws(AMQPCodecError) -> [UInt8] {
        let length: UInt32 = try readInteger(field)
        guard let bytes = readBytes(length: Int(length)) else {
            throw AMQPCodecError(.truncated, "\(field) of \(length) bytes runs past the end of its frame")
        }
        return bytes
    }

    /// Reads a field table with its length prefix.
    public mutating func readFieldTable(_ field: StaticString = "field table") throws(AMQPCodecError) -> FieldTable {
        try readFieldTable(field, depth: 0)
    }

    mutating func readFieldTable(_ field: StaticString, depth: Int) throws(AMQPCodecError) -> FieldTable {
        guard depth < WireBuffer.maxNestingDepth else {
            throw AMQPCodecError(.nestingTooDeep, "field tables nested deeper than \(WireBuffer.maxNestingDepth)")
        }
        let length: UInt32 = try readInteger(field)
        guard var sub = readSubReader(length: Int(length)) else {
            throw AMQPCodecError(.truncated, "\(field) of \(length) bytes runs past the end of its frame")
        }
        return try sub.readFieldTableEntries(depth: depth + 1)
    }

    /// Reads table entries until the reader is exhausted (no length prefix).
    mutating func readFieldTableEntries(depth: Int) throws(AMQPCodecError) -> FieldTable {
        var entries: [FieldTable.Entry] = []
        while !isAtEnd {
            let key = try readShortString("field table key")
            let value = try readFieldValue(depth: depth)
            entries.append(FieldTable.Entry(key: key, value: value))
        }
        return FieldTable(entries)
    }

    mutating func readFieldArray(depth: Int) throws(AMQPCodecError) -> [FieldValue] {
        guard depth < WireBuffer.maxNestingDepth else {
            throw AMQPCodecError(.nestingTooDeep, "field arrays nested deeper than \(WireBuffer.maxNestingDepth)")
        }
        let length: UInt32 = try readInteger("field array")
        guard var sub = readSubReader(length: Int(length)) else {
            throw AMQPCodecError(.truncated, "field array of \(length) bytes runs past the end of its frame")
        }
        var values: [FieldValue] = []
        while !sub.isAtEnd { values.append(try sub.readFieldValue(depth: depth + 1)) }
        return values
    }

    mutating func readFieldValue(depth: Int) throws(AMQPCodecError) -> FieldValue {
        let tag: UInt8 = try readInteger("field value type")
        switch tag {
        case UInt8(ascii: "t"):
            let v: UInt8 = try readInteger("boolean")
            return .boolean(v != 0)
        case UInt8(ascii: "b"): return .int8(try readInteger("int8"))
        case UInt8(ascii: "B"): return .uint8(try readInteger("uint8"))
        case UInt8(ascii: "s"): return .int16(try readInteger("int16"))
        case UInt8(ascii: "u"): return .uint16(try readInteger("uint16"))
        case UInt8(ascii: "I"): return .int32(try readInteger("int32"))
        case UInt8(ascii: "i"): return .uint32(try readInteger("uint32"))
        case UInt8(ascii: "l"): return .int64(try readInteger("int64"))
        case UInt8(ascii: "f"):
            let bits: UInt32 = try readInteger("float")
            return .float(Float(bitPattern: bits))
        case UInt8(ascii: "d"):
            let bits: UInt64 = try readInteger("double")
            return .double(Double(bitPattern: bits))
        case UInt8(ascii: "D"):
            let scale: UInt8 = try readInteger("decimal scale")
            let value: Int32 = try readInteger("decimal value")
            return .decimal(AMQPDecimal(scale: scale, value: value))
        case UInt8(ascii: "S"):
            let bytes = try readLongString("long string value")
            if let string = String(validating: bytes, as: UTF8.self) { return .string(string) }
            return .stringBytes(bytes)
        case UInt8(ascii: "A"): return .array(try readFieldArray(depth: depth))
        case UInt8(ascii: "T"): return .timestamp(AMQPTimestamp(secondsSince1970: try readInteger("timestamp")))
        case UInt8(ascii: "F"): return .table(try readFieldTable("nested field table", depth: depth))
        case UInt8(ascii: "V"): return .void
        case UInt8(ascii: "x"): return .bytes(try readLongString("byte array"))
        default:
            throw AMQPCodecError(.unknownFieldType, "field value type tag \(tag) is not one RabbitMQ defines")
        }
    }
}
