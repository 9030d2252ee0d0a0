/// Header fields: RFC 2047 encoded-words for non-ASCII text and folding (RFC 5322 section 2.2.3)
/// so that lines stay within 78 characters. Pure functions; the result has no CR or LF other
/// than the folds it inserts.
enum HeaderEncoding {
    /// RFC 5322's recommended maximum line length, without the CRLF.
    static let maximumLineLength = 78
    /// RFC 2047's maximum encoded-word length.
    static let maximumEncodedWordLength = 75

    /// A header field for unstructured text (Subject, extra headers) as lines without CRLF.
    ///
    /// Printable ASCII that folds into lines of at most 78 characters is kept as it is. Anything
    /// else (non-ASCII, a word too long to fold, text that looks like an encoded-word) becomes a
    /// run of encoded-words, which always fits.
    static func unstructured(name: String, value: String) -> [String] {
        let ascii = value.utf8.allSatisfy { ($0 >= 32 && $0 <= 126) || $0 == 9 }
        if ascii && !value.contains("=?") {
            let lines = fold(name: name, tokens: plainTokens(value))
            if lines.allSatisfy({ $0.utf8.count <= maximumLineLength }) { return lines }
        }
        return fold(name: name, tokens: encodedWords(value, firstLineUsed: name.utf8.count + 1))
    }

    /// Splits text at single spaces into tokens that `fold` joins with one space again. Runs of
    /// spaces stay with the word after them, trailing spaces with the last word, so folding never
    /// makes a line of only whitespace and unfolding gives back the text exactly.
    static func plainTokens(_ text: String) -> [String] {
        var tokens: [String] = []
        var pendingSpaces = ""
        for part in text.split(separator: " ", omittingEmptySubsequences: false) {
            if part.isEmpty {
                pendingSpaces += " "
                continue
            }
            tokens.append(pendingSpaces + part)
            pendingSpaces = ""
        }
        if tokens.isEmpty {
            // Only spaces, or nothing: n spaces split into n + 1 empty parts.
            tokens.append(String(pendingSpaces.dropLast()))
        } else {
            // Trailing spaces: as many empty parts as spaces.
            tokens[tokens.count - 1] += pendingSpaces
        }
        return tokens
    }

    /// `Name: token token ...`, folded before a token when it would pass 78 characters. The first
    /// token stays on the first line unless it fits only on a line of its own. A token longer than
    /// a line makes a longer line (callers check when that matters).
    static func fold(name: String, tokens: [String]) -> [String] {
        var lines: [String] = []
        var line = name + ":"
        var lineLength = line.utf8.count
        var first = true
        for token in tokens {
            let length = token.utf8.count
            let fitsHere = lineLength + 1 + length <= maximumLineLength
            let fitsAlone = 1 + length <= maximumLineLength
            if !fitsHere && (!first || fitsAlone) {
                lines.append(line)
                line = ""
                lineLength = 0
            }
            line += " " + token
            lineLength += 1 + length
            first = false
        }
        lines.append(line)
        return lines
    }

    /// `text` as encoded-words in UTF-8, each at most 75 characters and small enough that `fold`
    /// puts each on a line of at most 78; the first leaves room for `Name:` when it can. Uses Q
    /// encoding when that is no longer than B (mostly-ASCII text stays readable). Words break
    /// only between Unicode scalars, never inside a UTF-8 sequence.
    static func encodedWords(_ text: String, firstLineUsed: Int) -> [String] {
        let scalars = Array(text.unicodeScalars)
        guard !scalars.isEmpty else { return [] }
        let qLength = scalars.reduce(0) { $0 + qEncoded($1).count }
        let bLength = (text.utf8.count + 2) / 3 * 4
        let useQ = qLength <= bLength
        let prefix = useQ ? "=?utf-8?Q?" : "=?utf-8?B?"
        let overhead = prefix.utf8.count + 2
        // A word on its own line has a space before it.
        let fullCapacity = min(maximumEncodedWordLength, maximumLineLength - 1)
        let firstCapacity = min(fullCapacity, maximumLineLength - firstLineUsed - 1)
        // One scalar takes at most 12 characters (Q: 4 bytes as =XX) or 8 (B).
        var capacity = firstCapacity >= overhead + 12 ? firstCapacity : fullCapacity
        var words: [String] = []
        var chunk: [UInt8] = []
        var chunkLength = 0
        func flush() {
            let payload = useQ ? chunk : BodyEncoding.base64(chunk)
            words.append(prefix + String(decoding: payload, as: UTF8.self) + "?=")
            chunk = []
            chunkLength = 0
            capacity = fullCapacity
        }
        for scalar in scalars {
            if useQ {
                let piece = qEncoded(scalar)
                if overhead + chunkLength + piece.count > capacity { flush() }
                chunk += piece
                chunkLength += piece.count
            } else {
                let bytes = Array(String(scalar).utf8)
                if overhead + (chunk.count + bytes.count + 2) / 3 * 4 > capacity { flush() }
                chunk += bytes
                chunkLength = (chunk.count + 2) / 3 * 4
            }
        }
        flush()
        return words
    }

    /// One scalar in RFC 2047 Q encoding, restricted to the characters allowed in a phrase
    /// (section 5 (3)), so the same words serve in Subject and in display names.
    static func qEncoded(_ scalar: Unicode.Scalar) -> [UInt8] {
        if scalar == " " { return [UInt8(ascii: "_")] }
        if scalar.isASCII {
            let byte = UInt8(scalar.value)
            if AddressParser.isLetterOrDigit(byte) || "!*+-/".utf8.contains(byte) { return [byte] }
        }
        var out: [UInt8] = []
        for byte in String(scalar).utf8 {
            out += [UInt8(ascii: "="), BodyEncoding.hexDigit(byte >> 4), BodyEncoding.hexDigit(byte & 0x0F)]
        }
        return out
    }
}
