/// A server reply (RFC 5321 section 4.2): a three-digit code and one or more lines of text.
public struct SMTPReply: Sendable, Hashable, CustomStringConvertible {
    /// The reply code, 200 to 599.
    public var code: Int
    /// The RFC 3463 enhanced status code at the start of the text (`5.1.1`), when the server
    /// gave one whose class matches the reply code.
    public var enhancedStatusCode: String?
    /// The text of each line, without the code and the separator.
    public var lines: [String]

    public init(code: Int, enhancedStatusCode: String? = nil, lines: [String]) {
        self.code = code
        self.enhancedStatusCode = enhancedStatusCode
        self.lines = lines
    }

    /// 2xx: the command succeeded.
    public var isPositiveCompletion: Bool { (200..<300).contains(code) }
    /// 3xx: send more (354 after DATA, 334 during AUTH).
    public var isPositiveIntermediate: Bool { (300..<400).contains(code) }
    /// 4xx: failed for now; the same command may succeed later.
    public var isTransientNegative: Bool { (400..<500).contains(code) }
    /// 5xx: failed; the same command will fail again.
    public var isPermanentNegative: Bool { (500..<600).contains(code) }

    /// The lines joined with newlines.
    public var text: String { lines.joined(separator: "\n") }

    /// `code text` of the first line, the way servers print it (`250 2.0.0 Ok: queued as 4F2A`).
    public var description: String {
        let first = lines.first ?? ""
        return first.isEmpty ? "\(code)" : "\(code) \(first)\(lines.count > 1 ? " (+\(lines.count - 1) lines)" : "")"
    }
}

/// Why bytes from the server are not an SMTP reply.
struct SMTPReplyDecodingError: Error, Equatable {
    var message: String
}

/// Decodes replies from the bytes the server sent, one at a time, with bounds on what it keeps:
/// a line longer than `maximumLineLength` or a reply of more than `maximumLines` lines is an
/// error as soon as it is seen, whatever has arrived so far.
///
/// Lines end with CRLF; a bare LF is accepted too (some servers send one).
struct SMTPReplyDecoder {
    var maximumLineLength: Int
    var maximumLines: Int

    /// The first complete reply in `bytes` and the number of bytes it took, or nil when more
    /// bytes are needed.
    ///
    /// - Throws: `SMTPReplyDecodingError` when the bytes cannot be a reply (bad code or
    ///   separator, codes that differ between lines, a line or a reply too long).
    func decode(_ bytes: ArraySlice<UInt8>) throws(SMTPReplyDecodingError) -> (reply: SMTPReply, consumed: Int)? {
        var lines: [String] = []
        var code = 0
        var index = bytes.startIndex
        while true {
            guard let newline = bytes[index...].firstIndex(of: 10) else {
                if bytes.endIndex - index > maximumLineLength + 1 { throw tooLong() }
                return nil
            }
            var end = newline
            if end > index && bytes[end - 1] == 13 { end -= 1 }
            let line = bytes[index..<end]
            guard line.count <= maximumLineLength else { throw tooLong() }
            let (lineCode, isLast, text) = try parseLine(line)
            if lines.isEmpty {
                code = lineCode
            } else if lineCode != code {
                throw SMTPReplyDecodingError(
                    message: "a multi-line reply changes its code from \(code) to \(lineCode)")
            }
            lines.append(text)
            index = newline + 1
            if isLast {
                let enhanced = Self.enhancedStatusCode(in: lines[0], replyCode: code)
                return (SMTPReply(code: code, enhancedStatusCode: enhanced, lines: lines), index - bytes.startIndex)
            }
            guard lines.count < maximumLines else {
                throw SMTPReplyDecodingError(message: "the reply has more than \(maximumLines) lines")
            }
        }
    }

    private func tooLong() -> SMTPReplyDecodingError {
        SMTPReplyDecodingError(message: "a reply line is longer than \(maximumLineLength) bytes")
    }

    /// `ddd text` (last line), `ddd-text` (more follow) or `ddd` alone.
    private func parseLine(_ line: ArraySlice<UInt8>) throws(SMTPReplyDecodingError) -> (Int, Bool, String) {
        let digits = line.prefix(3)
        let zero = UInt8(ascii: "0")
        guard digits.count == 3, digits.allSatisfy({ (zero...UInt8(ascii: "9")).contains($0) }) else {
            throw SMTPReplyDecodingError(message: "not an SMTP reply line: \(Self.printable(line))")
        }
        let d = digits.map { Int($0 - zero) }
        let code = d[0] * 100 + d[1] * 10 + d[2]
        guard (2...5).contains(d[0]), (0...5).contains(d[1]) else {
            throw SMTPReplyDecodingError(message: "\(code) is not an SMTP reply code")
        }
        guard line.count > 3 else { return (code, true, "") }
        let separator = line[line.startIndex + 3]
        guard separator == UInt8(ascii: " ") || separator == UInt8(ascii: "-") else {
            throw SMTPReplyDecodingError(message: "not an SMTP reply line: \(Self.printable(line))")
        }
        let text = String(decoding: line.dropFirst(4), as: UTF8.self)
        return (code, separator == UInt8(ascii: " "), text)
    }

    /// `class.subject.detail` (RFC 3463) at the start of `text`, if its class is the reply's.
    static func enhancedStatusCode(in text: String, replyCode: Int) -> String? {
        let candidate = text.prefix { $0 != " " }
        let parts = candidate.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "\(replyCode / 100)", parts[0] != "3",
            parts.dropFirst().allSatisfy({
                (1...3).contains($0.count) && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber)
            })
        else { return nil }
        return String(candidate)
    }

    /// A reply line for an error message: at most 100 characters, control characters escaped.
    static func printable(_ line: ArraySlice<UInt8>) -> String {
        var out = ""
        for byte in line.prefix(100) {
            if byte >= 32 && byte < 127 {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "\\x" + String(byte, radix: 16)
            }
        }
        return "\"" + out + (line.count > 100 ? "...\"" : "\"")
    }
}

/// The extensions a server lists in its EHLO reply (RFC 5321 section 4.1.1.1).
struct SMTPCapabilities: Equatable {
    /// Keyword (upper-cased) to its parameters.
    var extensions: [String: [String]] = [:]

    init() {}

    init(ehloReply: SMTPReply) {
        for line in ehloReply.lines.dropFirst() {
            var words = line.split(separator: " ").map(String.init)
            guard !words.isEmpty else { continue }
            var keyword = words.removeFirst().uppercased()
            // Some servers still send the pre-standard "AUTH=PLAIN LOGIN".
            if keyword.hasPrefix("AUTH=") {
                words.insert(String(keyword.dropFirst(5)), at: 0)
                keyword = "AUTH"
            }
            extensions[keyword, default: []] += words
        }
    }

    func supports(_ keyword: String) -> Bool { extensions[keyword.uppercased()] != nil }

    /// The SASL mechanisms after AUTH, upper-cased.
    var authMechanisms: Set<String> { Set((extensions["AUTH"] ?? []).map { $0.uppercased() }) }

    /// The largest message the server accepts (SIZE), if it says; 0 means no fixed limit.
    var maximumSize: Int? {
        guard let parameters = extensions["SIZE"] else { return nil }
        return parameters.first.flatMap { Int($0) } ?? 0
    }
}
