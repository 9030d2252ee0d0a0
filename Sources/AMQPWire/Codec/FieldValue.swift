public import struct Foundation.Date

/// One value in an AMQP field table or array, with RabbitMQ's type tags.
///
/// RabbitMQ's tags differ from the 0-9-1 spec's table in a few places (its errata): `s` is a signed
/// 16-bit integer, `u` unsigned 16-bit, `I` signed and `i` unsigned 32-bit, `l` signed 64-bit, and
/// `x` a byte array. Those are the tags used here, so tables round-trip with RabbitMQ and with the
/// Java, Go and Python clients.
public enum FieldValue: Sendable, Hashable {
    /// `t`
    case boolean(Bool)
    /// `b`
    case int8(Int8)
    /// `B`
    case uint8(UInt8)
    /// `s`
    case int16(Int16)
    /// `u`
    case uint16(UInt16)
    /// `I`
    case int32(Int32)
    /// `i`
    case uint32(UInt32)
    /// `l`
    case int64(Int64)
    /// `f`
    case float(Float)
    /// `d`
    case double(Double)
    /// `D`: a scale (digits after the point) and an unscaled value.
    case decimal(AMQPDecimal)
    /// `S` holding valid UTF-8.
    case string(String)
    /// `S` whose bytes are not valid UTF-8, kept exactly as received (long strings are binary).
    case stringBytes([UInt8])
    /// `A`
    case array([FieldValue])
    /// `T`: seconds since 1970.
    case timestamp(AMQPTimestamp)
    /// `F`
    case table(FieldTable)
    /// `V`
    case void
    /// `x`
    case bytes([UInt8])

    /// The RabbitMQ type tag this value is encoded with.
    public var typeTag: UInt8 {
        switch self {
        case .boolean: UInt8(ascii: "t")
        case .int8: UInt8(ascii: "b")
        case .uint8: UInt8(ascii: "B")
        case .int16: UInt8(ascii: "s")
        case .uint16: UInt8(ascii: "u")
        case .int32: UInt8(ascii: "I")
        case .uint32: UInt8(ascii: "i")
        case .int64: UInt8(ascii: "l")
        case .float: UInt8(ascii: "f")
        case .double: UInt8(ascii: "d")
        case .decimal: UInt8(ascii: "D")
        case .string, .stringBytes: UInt8(ascii: "S")
        case .array: UInt8(ascii: "A")
        case .timestamp: UInt8(ascii: "T")
        case .table: UInt8(ascii: "F")
        case .void: UInt8(ascii: "V")
        case .bytes: UInt8(ascii: "x")
        }
    }

    /// The value as a string, when it is one (`S` in UTF-8).
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The value as an integer, when it is any integer type and fits.
    public var intValue: Int? {
        switch self {
        case .int8(let v): Int(v)
        case .uint8(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int64(let v): Int(exactly: v)
        default: nil
        }
    }

    /// The value as a Boolean, when it is one.
    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        return nil
    }
}

/// An AMQP decimal: `value × 10^-scale`.
public struct AMQPDecimal: Sendable, Hashable, CustomStringConvertible {
    public var scale: UInt8
    public var value: Int32
    public init(scale: UInt8, value: Int32) {
        self.scale = scale
        self.value = value
    }
    public var description: String { "\(value)e-\(scale)" }
}

/// An AMQP timestamp: whole seconds since 1970-01-01 UTC, exactly as on the wire.
public struct AMQPTimestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var secondsSince1970: UInt64
    public init(secondsSince1970: UInt64) { self.secondsSince1970 = secondsSince1970 }

    /// The whole seconds of `date`; dates before 1970 become 0.
    public init(_ date: Date) {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        self.secondsSince1970 = seconds.isFinite && seconds > 0 ? UInt64(exactly: seconds) ?? UInt64.max : 0
    }

    /// The current time, to the second.
    public static var now: AMQPTimestamp { AMQPTimestamp(Date()) }

    public var date: Date { Date(timeIntervalSince1970: Double(secondsSince1970)) }
    public static func < (a: Self, b: Self) -> Bool { a.secondsSince1970 < b.secondsSince1970 }
    public var description: String { "\(secondsSince1970)" }
}

extension FieldValue {
    /// Values are equal when they encode to the same bytes: floats compare by bit pattern, so a
    /// decoded NaN equals itself (and a decoded table its source) and `0.0` differs from `-0.0`.
    /// IEEE `==` would make NaN unequal to itself, which `Hashable` does not allow.
    public static func == (lhs: FieldValue, rhs: FieldValue) -> Bool {
        switch (lhs, rhs) {
        case (.float(let a), .float(let b)): a.bitPattern == b.bitPattern
        case (.double(let a), .double(let b)): a.bitPattern == b.bitPattern
        case (.boolean(let a), .boolean(let b)): a == b
        case (.int8(let a), .int8(let b)): a == b
        case (.uint8(let a), .uint8(let b)): a == b
        case (.int16(let a), .int16(let b)): a == b
        case (.uint16(let a), .uint16(let b)): a == b
        case (.int32(let a), .int32(let b)): a == b
        case (.uint32(let a), .uint32(let b)): a == b
        case (.int64(let a), .int64(let b)): a == b
        case (.decimal(let a), .decimal(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.stringBytes(let a), .stringBytes(let b)): a == b
        case (.array(let a), .array(let b)): a == b
        case (.timestamp(let a), .timestamp(let b)): a == b
        case (.table(let a), .table(let b)): a == b
        case (.void, .void): true
        case (.bytes(let a), .bytes(let b)): a == b
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(typeTag)
        switch self {
        case .float(let v): hasher.combine(v.bitPattern)
        case .double(let v): hasher.combine(v.bitPattern)
        case .boolean(let v): hasher.combine(v)
        case .int8(let v): hasher.combine(v)
        case .uint8(let v): hasher.combine(v)
        case .int16(let v): hasher.combine(v)
        case .uint16(let v): hasher.combine(v)
        case .int32(let v): hasher.combine(v)
        case .uint32(let v): hasher.combine(v)
        case .int64(let v): hasher.combine(v)
        case .decimal(let v): hasher.combine(v)
        case .string(let v): hasher.combine(v)
        case .stringBytes(let v), .bytes(let v): hasher.combine(v)
        case .array(let v): hasher.combine(v)
        case .timestamp(let v): hasher.combine(v)
        case .table(let v): hasher.combine(v)
        case .void: break
        }
    }
}

extension FieldValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    /// Integer literals become `l` (signed 64-bit), which RabbitMQ accepts for every numeric argument.
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: FieldValue...) { self = .array(elements) }
}
