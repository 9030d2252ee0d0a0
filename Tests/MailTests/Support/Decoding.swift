import Foundation

/// Independent decoders for what the library encodes, to check that encoding round-trips.
enum Decode {
    /// Quoted-printable to bytes (CRLF hard breaks kept, soft breaks removed).
    static func quotedPrintable(_ encoded: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < encoded.count {
            let byte = encoded[i]
            if byte == UInt8(ascii: "=") {
                if i + 2 < encoded.count, encoded[i + 1] == 13, encoded[i + 2] == 10 {
                    i += 3
                    continue
                }
                let hex = String(decoding: encoded[(i + 1)...(i + 2)], as: UTF8.self)
                out.append(UInt8(hex, radix: 16)!)
                i += 3
                continue
            }
            out.append(byte)
            i += 1
        }
        return out
    }

    /// Base64 lines (CRLF-separated) to bytes.
    static func base64Lines(_ encoded: [UInt8]) -> [UInt8] {
        let joined = String(decoding: encoded.filter { $0 != 13 && $0 != 10 }, as: UTF8.self)
        return Array(Data(base64Encoded: joined)!)
    }

    /// Unfolds header lines and decodes RFC 2047 encoded-words (whitespace between adjacent words
    /// dropped, as section 6.2 says).
    static func headerValue(_ lines: [String]) -> String {
        var unfolded = lines.joined()
        if let colon = unfolded.firstIndex(of: ":") {
            unfolded = String(unfolded[unfolded.index(after: colon)...])
        }
        if unfolded.hasPrefix(" ") { unfolded.removeFirst() }
        let pattern = /=\?utf-8\?([QB])\?([^?]*)\?=/
        var result = ""
        var rest = Substring(unfolded)
        var previousWasWord = false
        while let match = rest.firstMatch(of: pattern) {
            let between = rest[..<match.range.lowerBound]
            if !(previousWasWord && between.allSatisfy(\.isWhitespace)) { result += between }
            let payload = String(match.output.2)
            let bytes: [UInt8]
            if match.output.1 == "Q" {
                bytes = quotedPrintable(Array(payload.replacingOccurrences(of: "_", with: " ").utf8))
            } else {
                bytes = Array(Data(base64Encoded: payload)!)
            }
            result += String(decoding: bytes, as: UTF8.self)
            rest = rest[match.range.upperBound...]
            previousWasWord = true
        }
        return result + rest
    }

    /// The header block and body of a message, split at the first empty line.
    static func split(_ message: [UInt8]) -> (headers: [String], body: [UInt8]) {
        let text = message
        var i = 0
        while i + 3 < text.count {
            if text[i] == 13 && text[i + 1] == 10 && text[i + 2] == 13 && text[i + 3] == 10 { break }
            i += 1
        }
        let headerText = String(decoding: text[..<(i + 2)], as: UTF8.self)
        var lines = headerText.components(separatedBy: "\r\n")
        lines.removeLast()
        return (lines, Array(text[(i + 4)...]))
    }

    /// The lines of header `name` (first line and its continuations).
    static func headerLines(_ name: String, in headers: [String]) -> [String]? {
        guard let start = headers.firstIndex(where: { $0.lowercased().hasPrefix(name.lowercased() + ":") }) else {
            return nil
        }
        var lines = [headers[start]]
        var next = start + 1
        while next < headers.count, headers[next].first == " " || headers[next].first == "\t" {
            lines.append(headers[next])
            next += 1
        }
        return lines
    }
}
