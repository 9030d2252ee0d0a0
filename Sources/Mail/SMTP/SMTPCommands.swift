/// The bytes the client sends: commands, SASL responses and the message as DATA. Pure functions.
enum SMTPCommands {
    /// The message as DATA content (RFC 5321 section 4.5.2): a `.` added before every line that
    /// starts with one, a CRLF added if the message does not end with one, then `.` CRLF.
    static func dataContent(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + message.count / 64 + 5)
        var atLineStart = true
        for byte in message {
            if atLineStart && byte == UInt8(ascii: ".") { out.append(UInt8(ascii: ".")) }
            out.append(byte)
            atLineStart = byte == 10
        }
        if !(out.count >= 2 && out[out.count - 2] == 13 && out[out.count - 1] == 10) { out += [13, 10] }
        out += [UInt8(ascii: "."), 13, 10]
        return out
    }

    static func mailFrom(_ sender: EmailAddress, size: Int?) -> String {
        "MAIL FROM:<\(sender.address)>" + (size.map { " SIZE=\($0)" } ?? "")
    }

    static func rcptTo(_ recipient: EmailAddress) -> String { "RCPT TO:<\(recipient.address)>" }

    /// The AUTH PLAIN initial response (RFC 4616): base64 of NUL user NUL password, with no
    /// authorization identity.
    static func plainResponse(_ credentials: SMTPCredentials) -> String {
        let bytes = [0] + Array(credentials.username.utf8) + [0] + Array(credentials.password.utf8)
        return base64(bytes)
    }

    static func base64<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> String {
        String(decoding: BodyEncoding.base64(bytes), as: UTF8.self)
    }
}
