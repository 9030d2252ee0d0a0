import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Prints each email to standard output instead of sending it, the way the tutorial's email
/// service does: recipient, subject and body between clear delimiters.
///
/// ```
/// ==================== email ====================
/// To: ada@example.org
/// Subject: Welcome
/// Message-ID: <1795511702114.4f2a9c0d81e3b7a6@example.com>
///
/// Hello Ada!
/// ================ end of email =================
/// ```
///
/// Control characters other than newline and tab are shown escaped (`\u{1b}`), so an email
/// cannot drive the terminal. Each email is written whole, so concurrent deliveries do not mix.
public struct ConsoleTransport: MailTransport {
    private let output: @Sendable (String) -> Void

    /// A console transport writing to standard output, or to `output` (for tests, or a logger).
    public init(output: (@Sendable (String) -> Void)? = nil) {
        self.output = output ?? Self.writeToStandardOutput
    }

    public var name: String { "console" }

    /// Prints `message`; never throws.
    public func deliver(_ message: EmailMessage) async throws -> DeliveryReceipt {
        output(Self.render(message))
        return DeliveryReceipt(
            transport: name, messageID: message.messageID, recipients: message.recipients, detail: "printed")
    }

    /// The text printed for `message`, ending with a newline.
    public static func render(_ message: EmailMessage) -> String {
        var text = "==================== email ====================\n"
        text += "To: \(message.to.map(\.description).joined(separator: ", "))\n"
        text += "Subject: \(message.subject)\n"
        text += "Message-ID: \(message.messageID)\n"
        text += "\n"
        var body = message.body.replacingLineBreaks()
        if !body.hasSuffix("\n") { body += "\n" }
        text += body
        text += "================ end of email =================\n"
        return escapingControlCharacters(text)
    }

    private static func escapingControlCharacters(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { isControl($0) }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar != "\n" && scalar != "\t" && (scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value))
    }

    private static let lock = Mutex(())

    private static let writeToStandardOutput: @Sendable (String) -> Void = { text in
        let bytes = Array(text.utf8)
        lock.withLock { _ in
            bytes.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var offset = 0
                while offset < raw.count {
                    let n = write(1, base + offset, raw.count - offset)
                    if n <= 0 {
                        if n < 0 && errno == EINTR { continue }
                        return
                    }
                    offset += n
                }
            }
        }
    }
}

extension String {
    /// CRLF and lone CR as LF.
    fileprivate func replacingLineBreaks() -> String {
        guard unicodeScalars.contains("\r") else { return self }
        var out = ""
        var previousWasCR = false
        for scalar in unicodeScalars {
            if scalar == "\r" {
                out += "\n"
                previousWasCR = true
                continue
            }
            if !(scalar == "\n" && previousWasCR) { out.unicodeScalars.append(scalar) }
            previousWasCR = false
        }
        return out
    }
}
