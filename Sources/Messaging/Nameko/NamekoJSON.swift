/// A JSON value as Nameko's serializer (kombu's `json`) reads and writes it.
///
/// Pure: no I/O. It exists because Foundation's JSON coders cannot do three things the Nameko
/// format needs: keep a number's literal (a kombu `decimal` is text such as `1.50`), read the
/// `NaN` and `Infinity` Python writes, and write Python's `json.dumps` layout (`", "` and `": "`,
/// every non-ASCII character as `\uXXXX`), which makes what we send byte-identical to what a
/// Nameko peer sends for the same value.
enum NamekoJSON: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number's literal as it appears in JSON (`-12`, `1.50`, `2e-3`), or Python's `NaN`,
    /// `Infinity` and `-Infinity`.
    case number(String)
    case string(String)
    case array([NamekoJSON])
    /// Keys are unique (the last of duplicates wins, as in Python); written in sorted order.
    case object([String: NamekoJSON])

    /// Nesting deeper than this is refused rather than risking the stack.
    static let maximumDepth = 256

    subscript(key: String) -> NamekoJSON? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// A body that is not JSON. `offset` is where reading stopped.
struct NamekoJSONError: Error, Sendable, Hashable, CustomStringConvertible {
    var reason: String
    var offset: Int
    var description: String { "\(reason) at byte \(offset)" }
}

// MARK: Parsing

extension NamekoJSON {
    /// Parses a whole JSON text (UTF-8, any whitespace, any key order). Throws when the bytes are
    /// not one complete JSON value, when a string is not valid UTF-8, or when nesting exceeds
    /// ``maximumDepth``. Lone surrogate escapes (which Python can write) become U+FFFD.
    static func parse(_ bytes: some Collection<UInt8>) throws(NamekoJSONError) -> NamekoJSON {
        var parser = Parser(bytes: Array(bytes))
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected data after the JSON value") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ reason: String) -> NamekoJSONError { NamekoJSONError(reason: reason, offset: index) }

        mutating func skipWhitespace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func value(depth: Int) throws(NamekoJSONError) -> NamekoJSON {
            guard depth < NamekoJSON.maximumDepth else { throw error("nesting deeper than \(NamekoJSON.maximumDepth)") }
            guard index < bytes.count else { throw error("unexpected end of the JSON text") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .null)
            case UInt8(ascii: "N"): return try literal("NaN", .number("NaN"))
            case UInt8(ascii: "I"): return try literal("Infinity", .number("Infinity"))
            case UInt8(ascii: "-") where hasPrefix("-Infinity"): return try literal("-Infinity", .number("-Infinity"))
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("unexpected character '\(Unicode.Scalar(bytes[index]))'")
            }
        }

        func hasPrefix(_ text: String) -> Bool {
            let utf8 = Array(text.utf8)
            return bytes.count - index >= utf8.count && Array(bytes[index..<index + utf8.count]) == utf8
        }

        mutating func literal(_ text: String, _ value: NamekoJSON) throws(NamekoJSONError) -> NamekoJSON {
            guard hasPrefix(text) else { throw error("invalid literal") }
            index += text.utf8.count
            return value
        }

        mutating func object(depth: Int) throws(NamekoJSONError) -> NamekoJSON {
            index += 1
            var members: [String: NamekoJSON] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a key") }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw error("expected ':'") }
                index += 1
                skipWhitespace()
                members[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard index < bytes.count else { throw error("unterminated object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    return .object(members)
                } else {
                    throw error("expected ',' or '}'")
                }
            }
        }

        mutating func array(depth: Int) throws(NamekoJSONError) -> NamekoJSON {
            index += 1
            var elements: [NamekoJSON] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                skipWhitespace()
                elements.append(try value(depth: depth + 1))
                skipWhitespace()
                guard index < bytes.count else { throw error("unterminated array") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    return .array(elements)
                } else {
                    throw error("expected ',' or ']'")
                }
            }
        }

        /// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
        mutating func number() throws(NamekoJSONError) -> String {
            let start = index
            func digits(_ p: inout Parser) -> Int {
                let from = p.index
                while p.index < p.bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(p.bytes[p.index]) {
                    p.index += 1
                }
                return p.index - from
            }
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count else { throw error("invalid number") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else if digits(&self) == 0 {
                throw error("invalid number")
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard digits(&self) > 0 else { throw error("invalid number: no digits after '.'") }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                    index += 1
                }
                guard digits(&self) > 0 else { throw error("invalid number: no exponent digits") }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        mutating func string() throws(NamekoJSONError) -> String {
            index += 1
            var scalars = String.UnicodeScalarView()
            var runStart = index
            func flushRun(_ p: Parser, upTo end: Int, into scalars: inout String.UnicodeScalarView)
                throws(NamekoJSONError)
            {
                guard end > runStart else { return }
                guard let text = String(validating: p.bytes[runStart..<end], as: UTF8.self) else {
                    throw p.error("a string is not valid UTF-8")
                }
                scalars.append(contentsOf: text.unicodeScalars)
            }
            while true {
                guard index < bytes.count else { throw error("unterminated string") }
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    try flushRun(self, upTo: index, into: &scalars)
                    index += 1
                    return String(scalars)
                }
                if byte < 0x20 { throw error("a control character in a string") }
                if byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                try flushRun(self, upTo: index, into: &scalars)
                index += 1
                guard index < bytes.count else { throw error("unterminated escape") }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""): scalars.append("\"")
                case UInt8(ascii: "\\"): scalars.append("\\")
                case UInt8(ascii: "/"): scalars.append("/")
                case UInt8(ascii: "b"): scalars.append("\u{08}")
                case UInt8(ascii: "f"): scalars.append("\u{0C}")
                case UInt8(ascii: "n"): scalars.append("\n")
                case UInt8(ascii: "r"): scalars.append("\r")
                case UInt8(ascii: "t"): scalars.append("\t")
                case UInt8(ascii: "u"):
                    let unit = try hex4()
                    if (0xD800...0xDBFF).contains(unit), hasPrefix("\\u") {
                        let save = index
                        index += 2
                        let low = try hex4()
                        if (0xDC00...0xDFFF).contains(low) {
                            let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
                            break
                        }
                        index = save
                    }
                    scalars.append(Unicode.Scalar(UInt32(unit)) ?? "\u{FFFD}")
                default:
                    throw error("invalid escape '\\\(Unicode.Scalar(escaped))'")
                }
                runStart = index
            }
        }

        mutating func hex4() throws(NamekoJSONError) -> UInt16 {
            guard bytes.count - index >= 4 else { throw error("a \\u escape needs four hex digits") }
            var value: UInt16 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw error("a \\u escape needs four hex digits")
                }
                value = value << 4 | UInt16(digit)
                index += 1
            }
            return value
        }
    }
}

// MARK: Writing

extension NamekoJSON {
    /// How a value is laid out.
    enum Layout {
        /// Python's `json.dumps` defaults, what every Nameko peer writes: `", "` and `": "`, and
        /// `ensure_ascii` (everything outside printable ASCII as `\uXXXX`, lowercase hex, astral
        /// characters as surrogate pairs).
        case python
        /// No spaces, UTF-8 as is, and `NaN`/`Infinity` as strings: what Foundation's
        /// `JSONDecoder` reads (with the matching non-conforming float strategy).
        case foundation
    }

    /// The JSON text of this value.
    func serialized(_ layout: Layout = .python) -> [UInt8] {
        var out: [UInt8] = []
        write(into: &out, layout)
        return out
    }

    func write(into out: inout [UInt8], _ layout: Layout) {
        switch self {
        case .null: out.append(contentsOf: "null".utf8)
        case .bool(let b): out.append(contentsOf: (b ? "true" : "false").utf8)
        case .number(let literal):
            if layout == .foundation, literal == "NaN" || literal.hasSuffix("Infinity") {
                Self.writeString(literal, into: &out, layout)
            } else {
                out.append(contentsOf: literal.utf8)
            }
        case .string(let s): Self.writeString(s, into: &out, layout)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, element) in elements.enumerated() {
                if i > 0 { Self.writeSeparator(into: &out, layout) }
                element.write(into: &out, layout)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (i, key) in members.keys.sorted().enumerated() {
                if i > 0 { Self.writeSeparator(into: &out, layout) }
                Self.writeMember(key, members[key]!, into: &out, layout)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeSeparator(into out: inout [UInt8], _ layout: Layout) {
        out.append(UInt8(ascii: ","))
        if layout == .python { out.append(UInt8(ascii: " ")) }
    }

    static func writeMember(_ key: String, _ value: NamekoJSON, into out: inout [UInt8], _ layout: Layout) {
        writeString(key, into: &out, layout)
        out.append(UInt8(ascii: ":"))
        if layout == .python { out.append(UInt8(ascii: " ")) }
        value.write(into: &out, layout)
    }

    /// Writes an object whose keys keep the given order (Nameko's envelopes: `args` before
    /// `kwargs`, `result` before `error`).
    static func writeOrderedObject(_ members: [(String, NamekoJSON)], into out: inout [UInt8], _ layout: Layout) {
        out.append(UInt8(ascii: "{"))
        for (i, (key, value)) in members.enumerated() {
            if i > 0 { writeSeparator(into: &out, layout) }
            writeMember(key, value, into: &out, layout)
        }
        out.append(UInt8(ascii: "}"))
    }

    static func writeString(_ s: String, into out: inout [UInt8], _ layout: Layout) {
        let hex = Array("0123456789abcdef".utf8)
        func escape(_ unit: UInt16) {
            out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u")])
            for shift in stride(from: 12, through: 0, by: -4) { out.append(hex[Int(unit >> UInt16(shift)) & 0xF]) }
        }
        out.append(UInt8(ascii: "\""))
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case "\\": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case "\n": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case "\r": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case "\t": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case "\u{08}": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case "\u{0C}": out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case " "..."~": out.append(UInt8(scalar.value))
            default:
                if scalar.value < 0x20 || (layout == .python && scalar.value >= 0x7F) {
                    for unit in String(scalar).utf16 { escape(unit) }
                } else {
                    out.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
