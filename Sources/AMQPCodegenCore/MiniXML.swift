/// Just enough XML for the AMQP spec files: elements, attributes, comments and declarations.
/// Text content is ignored (the stripped spec has none that matters). Errors name the offset.
public struct XMLElement: Sendable, Equatable {
    public var name: String
    public var attributes: [String: String]
    public var children: [XMLElement]

    public func attribute(_ name: String) -> String? { attributes[name] }
    public func children(named name: String) -> [XMLElement] { children.filter { $0.name == name } }
}

public struct XMLParseError: Error, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "XML error at byte \(offset): \(message)" }
}

public enum MiniXML {
    public static func parse(_ text: String) throws -> XMLElement {
        var parser = Parser(bytes: Array(text.utf8))
        return try parser.document()
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        func error(_ message: String) -> XMLParseError { XMLParseError(message: message, offset: i) }

        mutating func document() throws -> XMLElement {
            var root: XMLElement?
            while true {
                skipText()
                if i >= bytes.count { break }
                if try skipMarkup() { continue }
                guard root == nil else { throw error("more than one root element") }
                root = try element()
            }
            guard let root else { throw error("no root element") }
            return root
        }

        mutating func skipText() {
            while i < bytes.count && bytes[i] != UInt8(ascii: "<") { i += 1 }
        }

        /// Skips a comment, declaration or processing instruction; false when the next markup is an element.
        mutating func skipMarkup() throws -> Bool {
            if starts("<!--") {
                guard let end = find("-->", from: i + 4) else { throw error("unterminated comment") }
                i = end + 3
                return true
            }
            if starts("<?") || starts("<!") {
                guard let end = find(">", from: i + 2) else { throw error("unterminated declaration") }
                i = end + 1
                return true
            }
            return false
        }

        mutating func element() throws -> XMLElement {
            guard starts("<") else { throw error("expected an element") }
            i += 1
            let name = readName()
            guard !name.isEmpty else { throw error("element without a name") }
            var attributes: [String: String] = [:]
            while true {
                skipSpace()
                guard i < bytes.count else { throw error("unterminated start tag <\(name)>") }
                if starts("/>") {
                    i += 2
                    return XMLElement(name: name, attributes: attributes, children: [])
                }
                if bytes[i] == UInt8(ascii: ">") {
                    i += 1
                    break
                }
                let key = readName()
                guard !key.isEmpty else { throw error("bad attribute in <\(name)>") }
                skipSpace()
                guard starts("=") else { throw error("attribute \(key) without a value") }
                i += 1
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else {
                    throw error("attribute \(key) value is not quoted")
                }
                let quote = bytes[i]
                i += 1
                let start = i
                while i < bytes.count && bytes[i] != quote { i += 1 }
                guard i < bytes.count else { throw error("unterminated attribute \(key)") }
                attributes[key] = unescape(String(decoding: bytes[start..<i], as: UTF8.self))
                i += 1
            }
            var children: [XMLElement] = []
            while true {
                skipText()
                guard i < bytes.count else { throw error("<\(name)> is never closed") }
                if starts("</") {
                    i += 2
                    let closing = readName()
                    guard closing == name else { throw error("</\(closing)> closes <\(name)>") }
                    skipSpace()
                    guard starts(">") else { throw error("bad end tag </\(name)") }
                    i += 1
                    return XMLElement(name: name, attributes: attributes, children: children)
                }
                if try skipMarkup() { continue }
                children.append(try element())
            }
        }

        mutating func readName() -> String {
            let start = i
            while i < bytes.count {
                let c = bytes[i]
                let isNameByte =
                    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z"))
                    || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
                    || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-")
                    || c == UInt8(ascii: "_") || c == UInt8(ascii: ":") || c == UInt8(ascii: ".")
                guard isNameByte else { break }
                i += 1
            }
            return String(decoding: bytes[start..<i], as: UTF8.self)
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        func starts(_ prefix: String) -> Bool {
            let p = Array(prefix.utf8)
            return bytes.count - i >= p.count && Array(bytes[i..<i + p.count]) == p
        }

        func find(_ needle: String, from: Int) -> Int? {
            let n = Array(needle.utf8)
            var j = from
            while j + n.count <= bytes.count {
                if Array(bytes[j..<j + n.count]) == n { return j }
                j += 1
            }
            return nil
        }

        func unescape(_ s: String) -> String {
            guard s.contains("&") else { return s }
            return s.replacingAll("&lt;", "<").replacingAll("&gt;", ">").replacingAll("&quot;", "\"")
                .replacingAll("&apos;", "'").replacingAll("&amp;", "&")
        }
    }
}

extension String {
    func replacingAll(_ target: String, _ replacement: String) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.range(of: target) {
            result += rest[..<range.lowerBound]
            result += replacement
            rest = rest[range.upperBound...]
        }
        return result + rest
    }
}

extension Substring {
    func range(of target: String) -> Range<Index>? {
        guard !target.isEmpty else { return nil }
        var start = startIndex
        while start < endIndex {
            if self[start...].hasPrefix(target) {
                return start..<index(start, offsetBy: target.count)
            }
            start = index(after: start)
        }
        return nil
    }
}
