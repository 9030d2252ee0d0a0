#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A validated email address: an RFC 5322 addr-spec, `local-part@domain`, that an SMTP server can
/// be given in `MAIL FROM` or `RCPT TO` (RFC 5321).
///
/// Accepted:
/// - a local part that is a dot-atom (`john.smith`, `a+tag`, `o'brien`) or a quoted string
///   (`"john smith"`, `"a\"b"`);
/// - a domain that is a host name (letters, digits and hyphens in dot-separated labels of at most
///   63 characters, no label starting or ending with a hyphen; `localhost` is fine), or an address
///   literal, `[192.0.2.1]` or `[IPv6:2001:db8::1]`;
/// - at most 64 octets before the `@` and 254 in all (RFC 5321's limits).
///
/// Refused, with a message that says why: comments, whitespace or a display name around the
/// address (use ``Mailbox`` for a name), CR, LF, NUL and other control characters anywhere, and
/// non-ASCII characters. Internationalized addresses (`jörg@example.com`) need the SMTPUTF8
/// extension (RFC 6531), which this library's SMTP client does not negotiate; an internationalized
/// domain can be written in its ASCII (`xn--`) form instead.
///
/// Two addresses are equal when their text is equal; no case folding is done (the local part is
/// case-sensitive in principle, RFC 5321 section 2.4).
public struct EmailAddress: Sendable, Hashable, CustomStringConvertible {
    /// The whole address as given, e.g. `john.smith@example.com`.
    public let address: String
    /// The part before the `@`, with its quotes if it is a quoted string.
    public let localPart: String
    /// The part after the `@`: a host name, or an address literal with its brackets.
    public let domain: String

    /// The longest address in octets: RFC 5321's 256-octet path less its angle brackets.
    public static let maximumLength = 254
    /// The longest local part in octets (RFC 5321 section 4.5.3.1.1).
    public static let maximumLocalPartLength = 64
    /// The longest domain label in octets (RFC 1035).
    public static let maximumLabelLength = 63

    /// Validates `text` as an address.
    ///
    /// - Throws: ``EmailValidationError`` with code ``EmailValidationError/Code/invalidAddress``,
    ///   ``EmailValidationError/Code/addressTooLong``, ``EmailValidationError/Code/unsupportedAddress``
    ///   or ``EmailValidationError/Code/headerInjection`` (a CR or LF), and a message for the person
    ///   who typed it. `field` is `address`.
    public init(_ text: String) throws(EmailValidationError) {
        let parts = try AddressParser.parse(Array(text.utf8))
        address = text
        localPart = String(decoding: parts.local, as: UTF8.self)
        domain = String(decoding: parts.domain, as: UTF8.self)
    }

    public var description: String { address }
}

/// The addr-spec grammar, on bytes (only ASCII gets this far).
enum AddressParser {
    static func parse(_ bytes: [UInt8]) throws(EmailValidationError) -> (
        local: ArraySlice<UInt8>, domain: ArraySlice<UInt8>
    ) {
        guard !bytes.isEmpty else { throw invalid("the email address is empty") }
        if bytes.contains(where: { $0 == 13 || $0 == 10 }) {
            throw EmailValidationError(
                .headerInjection, field: "address", "the email address contains a line break (CR or LF)")
        }
        if bytes.contains(where: { $0 >= 0x80 }) {
            throw EmailValidationError(
                .unsupportedAddress, field: "address",
                "the email address contains non-ASCII characters; internationalized addresses (SMTPUTF8) "
                    + "are not supported (an internationalized domain can be written in its xn-- form)")
        }
        if bytes.contains(where: { $0 < 0x20 && $0 != 9 || $0 == 0x7F }) {
            throw invalid("the email address contains a control character")
        }
        if isSpace(bytes.first!) || isSpace(bytes.last!) {
            throw invalid("the email address has spaces at the start or end")
        }
        guard bytes.count <= EmailAddress.maximumLength else {
            throw EmailValidationError(
                .addressTooLong, field: "address",
                "the email address is \(bytes.count) characters long; at most \(EmailAddress.maximumLength) are allowed"
            )
        }
        let at = try localPartEnd(bytes)
        let local = bytes[..<at]
        let domain = bytes[(at + 1)...]
        guard !local.isEmpty else { throw invalid("the email address has nothing before the '@'") }
        guard !domain.isEmpty else { throw invalid("the email address has no domain after the '@'") }
        if local.first != UInt8(ascii: "\"") { try checkDotAtomLocalPart(local) }
        guard local.count <= EmailAddress.maximumLocalPartLength else {
            throw EmailValidationError(
                .addressTooLong, field: "address",
                "the part before the '@' is \(local.count) characters long; at most "
                    + "\(EmailAddress.maximumLocalPartLength) are allowed")
        }
        if domain.first == UInt8(ascii: "[") {
            try checkAddressLiteral(domain)
        } else {
            try checkHostName(domain)
        }
        return (local, domain)
    }

    /// True for a host name or an address literal that an address's domain may be (used for
    /// the EHLO name too).
    static func isValidDomain(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.count <= 255, bytes.allSatisfy({ $0 > 32 && $0 < 127 }) else { return false }
        do {
            if bytes.first == UInt8(ascii: "[") {
                try checkAddressLiteral(bytes[...])
            } else {
                try checkHostName(bytes[...])
            }
            return true
        } catch {
            return false
        }
    }

    /// The index of the `@` that ends the local part.
    private static func localPartEnd(_ bytes: [UInt8]) throws(EmailValidationError) -> Int {
        guard bytes[0] == UInt8(ascii: "\"") else {
            guard let at = bytes.firstIndex(of: UInt8(ascii: "@")) else {
                throw invalid("the email address has no '@' (it should look like name@example.com)")
            }
            if bytes[(at + 1)...].contains(UInt8(ascii: "@")) {
                throw invalid("the email address contains more than one '@'")
            }
            return at
        }
        // quoted-string: DQUOTE *(qtext / SP / HTAB / quoted-pair) DQUOTE, then the "@".
        var i = 1
        while i < bytes.count {
            let byte = bytes[i]
            if byte == UInt8(ascii: "\"") {
                guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: "@") else {
                    throw invalid("the quoted part of the email address must be followed by '@'")
                }
                if bytes[(i + 2)...].contains(UInt8(ascii: "@")) {
                    throw invalid("the domain of the email address contains an '@'")
                }
                return i + 1
            }
            if byte == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { break }
                i += 2
                continue
            }
            // qtext is every printable character but DQUOTE and backslash, plus space and tab.
            i += 1
        }
        throw invalid("the quoted part of the email address has no closing quote")
    }

    private static func checkDotAtomLocalPart(_ local: ArraySlice<UInt8>) throws(EmailValidationError) {
        if let bad = local.first(where: { !isAtext($0) && $0 != UInt8(ascii: ".") }) {
            throw invalid(
                "the part before the '@' contains \(describe(bad)), which is not allowed there "
                    + "(use letters, digits, dots and ! # $ % & ' * + - / = ? ^ _ ` { | } ~)")
        }
        if local.first == UInt8(ascii: ".") || local.last == UInt8(ascii: ".") {
            throw invalid("the part before the '@' cannot start or end with a dot")
        }
        if zip(local, local.dropFirst()).contains(where: { $0 == UInt8(ascii: ".") && $1 == UInt8(ascii: ".") }) {
            throw invalid("the part before the '@' cannot contain two dots in a row")
        }
    }

    private static func checkHostName(_ domain: ArraySlice<UInt8>) throws(EmailValidationError) {
        if let bad = domain.first(where: { !isLetterOrDigit($0) && $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: ".") })
        {
            throw invalid(
                "the domain contains \(describe(bad)), which is not allowed there (use letters, digits, hyphens "
                    + "and dots)")
        }
        for label in domain.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false) {
            guard !label.isEmpty else {
                throw invalid("the domain cannot start or end with a dot or contain two dots in a row")
            }
            guard label.count <= EmailAddress.maximumLabelLength else {
                throw EmailValidationError(
                    .addressTooLong, field: "address",
                    "a part of the domain between dots is \(label.count) characters long; at most "
                        + "\(EmailAddress.maximumLabelLength) are allowed")
            }
            if label.first == UInt8(ascii: "-") || label.last == UInt8(ascii: "-") {
                throw invalid("a part of the domain between dots cannot start or end with a hyphen")
            }
        }
    }

    /// RFC 5321 address literals: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
    private static func checkAddressLiteral(_ domain: ArraySlice<UInt8>) throws(EmailValidationError) {
        let usage =
            "an address literal must be an IPv4 address like [192.0.2.1] or an IPv6 address like [IPv6:2001:db8::1]"
        guard domain.count >= 3, domain.last == UInt8(ascii: "]") else { throw invalid(usage) }
        let inside = String(decoding: domain.dropFirst().dropLast(), as: UTF8.self)
        var storage = in6_addr()
        let ok: Bool
        if inside.lowercased().hasPrefix("ipv6:") {
            ok = inet_pton(AF_INET6, String(inside.dropFirst(5)), &storage) == 1
        } else {
            ok = inet_pton(AF_INET, inside, &storage) == 1
        }
        guard ok else { throw invalid(usage) }
    }

    /// RFC 5322 atext: letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
    static func isAtext(_ byte: UInt8) -> Bool {
        if isLetterOrDigit(byte) { return true }
        switch byte {
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "/"),
            UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"),
            UInt8(ascii: "{"), UInt8(ascii: "|"), UInt8(ascii: "}"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 }

    private static func describe(_ byte: UInt8) -> String {
        switch byte {
        case 32: "a space"
        case 9: "a tab"
        case UInt8(ascii: "'"): "\"'\""
        default: "'\(Character(Unicode.Scalar(byte)))'"
        }
    }

    private static func invalid(_ message: String) -> EmailValidationError {
        EmailValidationError(.invalidAddress, field: "address", message)
    }
}
