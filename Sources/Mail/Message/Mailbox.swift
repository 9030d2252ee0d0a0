/// An address with an optional display name, as in `From: Email Service <noreply@example.com>`.
///
/// The display name may be any text without control characters; non-ASCII names are written as
/// RFC 2047 encoded-words.
public struct Mailbox: Sendable, Hashable, CustomStringConvertible {
    public let address: EmailAddress
    public let displayName: String?

    /// A mailbox for `address`, with `displayName` if it is neither nil nor empty.
    ///
    /// - Throws: ``EmailValidationError`` when the name contains CR or LF
    ///   (``EmailValidationError/Code/headerInjection``) or another control character.
    public init(_ address: EmailAddress, displayName: String? = nil) throws(EmailValidationError) {
        if let displayName {
            try HeaderValue.check(displayName, field: "display name")
        }
        self.address = address
        self.displayName = displayName?.isEmpty == true ? nil : displayName
    }

    /// A mailbox for the address `text`, validated as ``EmailAddress/init(_:)`` does.
    public init(_ text: String, displayName: String? = nil) throws(EmailValidationError) {
        try self.init(EmailAddress(text), displayName: displayName)
    }

    /// `Name <address>`, or the address alone (for reading, not an encoded header).
    public var description: String {
        guard let displayName else { return address.address }
        return "\(displayName) <\(address.address)>"
    }

    /// The mailbox as header tokens for `HeaderEncoding.fold`.
    func headerTokens() -> [String] {
        guard let displayName else { return [address.address] }
        return Self.phraseTokens(displayName) + ["<\(address.address)>"]
    }

    /// A display name as RFC 5322 phrase tokens: atoms when it has only atext and spaces, a
    /// quoted string for other printable ASCII, encoded-words otherwise.
    static func phraseTokens(_ name: String) -> [String] {
        let bytes = Array(name.utf8)
        let printable = bytes.allSatisfy { $0 >= 32 && $0 <= 126 } && !name.contains("=?")
        if printable {
            let atoms = name.split(separator: " ").map(String.init)
            if !atoms.isEmpty && bytes.allSatisfy({ AddressParser.isAtext($0) || $0 == 32 }) { return atoms }
            var quoted = "\""
            for scalar in name.unicodeScalars {
                if scalar == "\"" || scalar == "\\" { quoted += "\\" }
                quoted.unicodeScalars.append(scalar)
            }
            quoted += "\""
            if quoted.utf8.count < HeaderEncoding.maximumLineLength { return [quoted] }
        }
        return HeaderEncoding.encodedWords(name, firstLineUsed: 0)
    }
}

/// Checks shared by every header value: no line breaks (header injection), no other control
/// characters but tab.
enum HeaderValue {
    static func check(_ value: String, field: String) throws(EmailValidationError) {
        for scalar in value.unicodeScalars {
            if scalar == "\r" || scalar == "\n" {
                throw EmailValidationError(
                    .headerInjection, field: field,
                    "the \(field) contains a line break (CR or LF), which is not allowed in an email header")
            }
            if (scalar.value < 0x20 && scalar != "\t") || (0x7F...0x9F).contains(scalar.value)
                || scalar == "\u{2028}" || scalar == "\u{2029}"
            {
                throw EmailValidationError(
                    .invalidHeader, field: field, "the \(field) contains a control character, which is not allowed")
            }
        }
    }
}
