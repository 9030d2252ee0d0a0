import Foundation

/// A Message-ID (RFC 5322 section 3.6.4): `<left@right>`, unique to one message.
///
/// Give a message a Message-ID of your own when the same logical email may be composed twice (a
/// redelivered command): the same ID lets a receiver tell the copies apart.
public struct MessageID: Sendable, Hashable, CustomStringConvertible {
    /// The ID with its angle brackets, e.g. `<1795511702114.4f2a9c0d81e3b7a6@example.com>`.
    public let value: String

    /// The longest ID accepted, brackets included.
    public static let maximumLength = 250

    /// Validates `text` as `<id-left@id-right>`, where id-left is a dot-atom and id-right a
    /// dot-atom or a `[literal]`.
    ///
    /// - Throws: ``EmailValidationError`` (field `Message-ID`) when it is not.
    public init(_ text: String) throws(EmailValidationError) {
        let bytes = Array(text.utf8)
        func invalid(_ why: String) -> EmailValidationError {
            EmailValidationError(.invalidHeader, field: "Message-ID", "the Message-ID \(why)")
        }
        if bytes.contains(where: { $0 == 13 || $0 == 10 }) {
            throw EmailValidationError(
                .headerInjection, field: "Message-ID", "the Message-ID contains a line break (CR or LF)")
        }
        guard bytes.count <= Self.maximumLength else {
            throw invalid("is longer than \(Self.maximumLength) characters")
        }
        guard bytes.count >= 5, bytes.first == UInt8(ascii: "<"), bytes.last == UInt8(ascii: ">"),
            let at = bytes.firstIndex(of: UInt8(ascii: "@"))
        else { throw invalid("must look like <unique-part@domain>") }
        let left = bytes[1..<at]
        let right = bytes[(at + 1)..<(bytes.count - 1)]
        guard Self.isDotAtom(left) else { throw invalid("has an invalid part before the '@'") }
        guard Self.isDotAtom(right) || Self.isLiteral(right) else {
            throw invalid("has an invalid part after the '@'")
        }
        value = text
    }

    /// A new ID, unique with overwhelming probability: the time in milliseconds and 64 random
    /// bits, `@domain`.
    ///
    /// - Throws: ``EmailValidationError`` when `domain` is not a dot-atom (`example.com`) or a
    ///   `[literal]`.
    public static func unique(domain: String) throws(EmailValidationError) -> MessageID {
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt64, radix: 16)
        let milliseconds = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        return try MessageID("<\(milliseconds).\(random)@\(domain)>")
    }

    public var description: String { value }

    private static func isDotAtom(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard !bytes.isEmpty, bytes.first != UInt8(ascii: "."), bytes.last != UInt8(ascii: ".") else { return false }
        var previous: UInt8 = 0
        for byte in bytes {
            guard AddressParser.isAtext(byte) || byte == UInt8(ascii: ".") else { return false }
            if byte == UInt8(ascii: ".") && previous == UInt8(ascii: ".") { return false }
            previous = byte
        }
        return true
    }

    private static func isLiteral(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count >= 2, bytes.first == UInt8(ascii: "["), bytes.last == UInt8(ascii: "]") else { return false }
        // dtext: printable ASCII but "[", "]" and backslash.
        return bytes.dropFirst().dropLast().allSatisfy {
            $0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: "[") && $0 != UInt8(ascii: "]") && $0 != UInt8(ascii: "\\")
        }
    }
}
