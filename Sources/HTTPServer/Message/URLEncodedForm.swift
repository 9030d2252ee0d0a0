/// Name-value pairs in the `application/x-www-form-urlencoded` format: HTML form bodies and URL
/// query strings. Order and repeated names are kept.
public struct URLEncodedForm: Sendable, Equatable, Sequence {
    /// One name-value pair, decoded.
    public struct Item: Sendable, Equatable {
        /// The decoded name.
        public var name: String
        /// The decoded value (empty for `name` or `name=`).
        public var value: String

        /// A pair.
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    /// The pairs, in order, repeated names kept.
    public var items: [Item]

    /// A form with these pairs.
    public init(_ items: [Item] = []) { self.items = items }

    /// Decodes `a=1&b=x+y&c=%C3%A9`: `+` is a space, `%XX` a byte, the result must be UTF-8.
    /// Empty pieces (`a=1&&b=2`) are skipped; a piece without `=` has an empty value.
    /// - Throws: `HTTPError` 400 on a bad `%` escape or bytes that are not UTF-8.
    public init(decoding bytes: some Collection<UInt8>) throws(HTTPError) {
        items = []
        for piece in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = piece.firstIndex(of: UInt8(ascii: "="))
            let name = equals.map { piece[..<$0] } ?? piece[...]
            let value = equals.map { piece[piece.index(after: $0)...] } ?? piece[piece.endIndex...]
            items.append(
                Item(
                    name: try Self.percentDecode(name, plusIsSpace: true),
                    value: try Self.percentDecode(value, plusIsSpace: true)))
        }
    }

    /// Decodes a query string or form body given as text.
    public init(decoding text: String) throws(HTTPError) {
        try self.init(decoding: Array(text.utf8))
    }

    /// The first value for `name`, or nil.
    public subscript(name: String) -> String? { items.first { $0.name == name }?.value }

    /// Every value for `name`, in order.
    public func values(for name: String) -> [String] { items.filter { $0.name == name }.map(\.value) }

    public func makeIterator() -> IndexingIterator<[Item]> { items.makeIterator() }

    /// The form encoded back: unreserved characters as they are, spaces as `+`, the rest `%XX`.
    public var encoded: String {
        items.map { Self.percentEncode($0.name) + "=" + Self.percentEncode($0.value) }.joined(separator: "&")
    }

    /// Percent-decodes one piece; `+` becomes a space only when `plusIsSpace` (forms, not paths).
    static func percentDecode(_ bytes: some Collection<UInt8>, plusIsSpace: Bool) throws(HTTPError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            if byte == UInt8(ascii: "%") {
                guard index != bytes.endIndex, let high = ASCII.hexValue(bytes[index]) else {
                    throw HTTPError(.badRequest, "invalid percent-encoding")
                }
                bytes.formIndex(after: &index)
                guard index != bytes.endIndex, let low = ASCII.hexValue(bytes[index]) else {
                    throw HTTPError(.badRequest, "invalid percent-encoding")
                }
                bytes.formIndex(after: &index)
                out.append(high << 4 | low)
            } else if byte == UInt8(ascii: "+") && plusIsSpace {
                out.append(ASCII.space)
            } else {
                out.append(byte)
            }
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw HTTPError(.badRequest, "the encoded text is not UTF-8")
        }
        return text
    }

    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case ASCII.space:
                out += "+"
            default:
                let digits = Array("0123456789ABCDEF".utf8)
                out += "%"
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(digits[Int(byte & 0x0F)]))
            }
        }
        return out
    }
}
