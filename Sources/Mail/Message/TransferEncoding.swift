/// The body's Content-Transfer-Encoding (RFC 2045): both keep every line at most 76 characters
/// and the body 7-bit, so any SMTP server carries it unchanged.
public enum TransferEncoding: String, Sendable, Hashable {
    /// Readable when the text is mostly ASCII; chosen when it is not longer than base64.
    case quotedPrintable = "quoted-printable"
    /// Compact for text that is mostly non-ASCII (Cyrillic, CJK, emoji).
    case base64
}

/// Body encodings: pure functions over bytes, each producing CRLF-terminated lines.
enum BodyEncoding {
    static let maximumLineLength = 76

    /// Text with its line breaks (CRLF, LF or a lone CR) as CRLF, ending with one line break:
    /// the canonical form of text/plain (RFC 2046 section 4.1.1).
    static func canonicalLines(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + text.utf8.count / 32 + 2)
        var previousWasCR = false
        for byte in text.utf8 {
            switch byte {
            case 13:
                out += [13, 10]
                previousWasCR = true
                continue
            case 10:
                if !previousWasCR { out += [13, 10] }
            default:
                out.append(byte)
            }
            previousWasCR = false
        }
        if !(out.count >= 2 && out[out.count - 2] == 13 && out[out.count - 1] == 10) { out += [13, 10] }
        return out
    }

    /// The smaller of the two encodings of `canonical` (quoted-printable on a tie).
    static func encode(_ canonical: [UInt8]) -> (TransferEncoding, [UInt8]) {
        let qp = quotedPrintable(canonical)
        let base64Length = (canonical.count + 2) / 3 * 4
        let base64WithBreaks = base64Length + (base64Length + maximumLineLength - 1) / maximumLineLength * 2
        if qp.count <= base64WithBreaks { return (.quotedPrintable, qp) }
        return (.base64, base64Lines(canonical))
    }

    /// Quoted-printable (RFC 2045 section 6.7) of CRLF-separated text: `=` and bytes outside
    /// printable ASCII become `=XX`, spaces and tabs before a line break too, and lines longer than
    /// 76 characters are broken with a soft line break (`=` at the end).
    static func quotedPrintable(_ canonical: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(canonical.count + canonical.count / 8)
        var lineLength = 0
        var i = 0
        while i < canonical.count {
            let byte = canonical[i]
            if byte == 13, i + 1 < canonical.count, canonical[i + 1] == 10 {
                out += [13, 10]
                lineLength = 0
                i += 2
                continue
            }
            let atLineEnd = i + 1 == canonical.count || (canonical[i + 1] == 13)
            let literal =
                (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 32 || byte == 9) && !atLineEnd)
            let width = literal ? 1 : 3
            // Leave room for the soft break's "=", unless this is the line's last character.
            let limit = atLineEnd ? maximumLineLength : maximumLineLength - 1
            if lineLength + width > limit {
                out += [UInt8(ascii: "="), 13, 10]
                lineLength = 0
            }
            if literal {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "="), hexDigit(byte >> 4), hexDigit(byte & 0x0F)]
            }
            lineLength += width
            i += 1
        }
        return out
    }

    /// Base64 in lines of 76 characters, each ending with CRLF.
    static func base64Lines(_ bytes: [UInt8]) -> [UInt8] {
        let encoded = base64(bytes)
        var out: [UInt8] = []
        out.reserveCapacity(encoded.count + encoded.count / maximumLineLength * 2 + 2)
        var start = 0
        while start < encoded.count {
            let end = min(start + maximumLineLength, encoded.count)
            out += encoded[start..<end]
            out += [13, 10]
            start = end
        }
        return out
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding, no line breaks.
    static func base64<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = iterator.next()
            let n = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(b == nil ? UInt8(ascii: "=") : alphabet[Int(n >> 6 & 63)])
            out.append(c == nil ? UInt8(ascii: "=") : alphabet[Int(n & 63)])
        }
        return out
    }

    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }
}
