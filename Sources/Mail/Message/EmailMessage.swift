public import Foundation

/// An extra header field, such as `X-Command-Id: 42`.
public struct EmailHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// A plain-text email, validated and composed into RFC 5322 bytes when it is created.
///
/// An `EmailMessage` that exists can be sent: every address is valid, no header value contains a
/// line break, the limits hold. ``bytes`` is the message as it goes over SMTP:
///
/// ```
/// Date: Tue, 24 Nov 2026 09:15:02 +0000
/// From: Email Service <noreply@example.com>
/// To: ada@example.org
/// Subject: =?utf-8?Q?Gr=C3=BC=C3=9Fe?=
/// Message-ID: <1795511702114.4f2a9c0d81e3b7a6@example.com>
/// MIME-Version: 1.0
/// Content-Type: text/plain; charset=utf-8
/// Content-Transfer-Encoding: quoted-printable
/// X-Command-Id: 42
///
/// Hallo =E2=80=94 sch=C3=B6n, dass du da bist.
/// ```
///
/// Lines end with CRLF. Header lines are folded to at most 78 characters (only a single address
/// longer than a line can make one longer, never past 998); non-ASCII header text is written as
/// RFC 2047 encoded-words. The body is text/plain in UTF-8, its line breaks made CRLF and a final
/// one added if missing, then quoted-printable or base64 (whichever is shorter), in lines of at
/// most 76 characters.
public struct EmailMessage: Sendable {
    /// Size limits, checked when a message is created. Every limit is configurable.
    public struct Limits: Sendable, Hashable {
        /// The longest subject, in characters. Default 998 (RFC 5322's line length limit).
        public var maximumSubjectLength: Int
        /// The longest extra header value or display name, in characters. Default 998.
        public var maximumHeaderValueLength: Int
        /// The largest body, in bytes of UTF-8. Default 1 MiB.
        public var maximumBodySize: Int
        /// The largest whole message as sent (headers and encoded body), in bytes. Default
        /// 10,240,000, Postfix's default `message_size_limit`.
        public var maximumMessageSize: Int
        /// The most recipients. Default 100, the number RFC 5321 section 4.5.3.1.8 requires a
        /// server to accept.
        public var maximumRecipients: Int

        public init(
            maximumSubjectLength: Int = 998, maximumHeaderValueLength: Int = 998, maximumBodySize: Int = 1_048_576,
            maximumMessageSize: Int = 10_240_000, maximumRecipients: Int = 100
        ) {
            self.maximumSubjectLength = maximumSubjectLength
            self.maximumHeaderValueLength = maximumHeaderValueLength
            self.maximumBodySize = maximumBodySize
            self.maximumMessageSize = maximumMessageSize
            self.maximumRecipients = maximumRecipients
        }
    }

    /// Header names the message writes itself, or that would change who receives it; an extra
    /// header may not use them (compared without case).
    public static let reservedHeaderNames: Set<String> = [
        "date", "from", "sender", "reply-to", "to", "cc", "bcc", "subject", "message-id", "mime-version",
        "content-type", "content-transfer-encoding", "return-path", "received",
    ]

    /// The longest extra header name.
    public static let maximumHeaderNameLength = 64

    public let from: Mailbox
    public let to: [Mailbox]
    public let subject: String
    /// The body as given (before line breaks are made CRLF).
    public let body: String
    public let headers: [EmailHeader]
    public let date: Date
    public let messageID: MessageID
    /// The encoding chosen for the body.
    public let transferEncoding: TransferEncoding
    /// The whole message, RFC 5322, CRLF line endings, ending with CRLF.
    public let bytes: [UInt8]

    /// The SMTP envelope recipients: each address of ``to`` once, in order.
    public var recipients: [EmailAddress] {
        var seen: Set<EmailAddress> = []
        return to.map(\.address).filter { seen.insert($0).inserted }
    }

    /// Validates the parts and composes the message.
    ///
    /// - Parameters:
    ///   - headers: extra header fields, checked like the subject; names must be printable ASCII
    ///     without `:` and not in ``reservedHeaderNames``.
    ///   - date: the Date header; now by default.
    ///   - messageID: the Message-ID; by default a unique one at the sender's domain
    ///     (``MessageID/unique(domain:)`` makes one at another).
    /// - Throws: ``EmailValidationError`` naming the field and the rule: a CR or LF in any header
    ///   value (``EmailValidationError/Code/headerInjection``, never silently removed), another
    ///   control character, no recipient or too many, a subject, header, body or message over its
    ///   limit.
    /// - Complexity: O(size of the message); the encoded bytes are built here, once.
    public init(
        from: Mailbox, to: [Mailbox], subject: String, body: String, headers: [EmailHeader] = [],
        date: Date = Date(), messageID: MessageID? = nil, limits: Limits = Limits()
    ) throws(EmailValidationError) {
        guard !to.isEmpty else {
            throw EmailValidationError(.invalidRecipients, field: "to", "the email has no recipient")
        }
        guard to.count <= limits.maximumRecipients else {
            throw EmailValidationError(
                .invalidRecipients, field: "to",
                "the email has \(to.count) recipients; at most \(limits.maximumRecipients) are allowed")
        }
        try HeaderValue.check(subject, field: "subject")
        guard subject.count <= limits.maximumSubjectLength else {
            throw EmailValidationError(
                .subjectTooLong, field: "subject",
                "the subject is \(subject.count) characters long; at most \(limits.maximumSubjectLength) are allowed")
        }
        for mailbox in [from] + to {
            if let name = mailbox.displayName, name.count > limits.maximumHeaderValueLength {
                throw EmailValidationError(
                    .invalidHeader, field: "display name",
                    "the display name is \(name.count) characters long; at most \(limits.maximumHeaderValueLength) "
                        + "are allowed")
            }
        }
        for header in headers { try Self.check(header, limits: limits) }
        guard body.utf8.count <= limits.maximumBodySize else {
            throw EmailValidationError(
                .bodyTooLarge, field: "body",
                "the body is \(body.utf8.count) bytes; at most \(limits.maximumBodySize) bytes are allowed")
        }

        let id: MessageID
        if let messageID {
            id = messageID
        } else {
            id = try MessageID.unique(domain: from.address.domain)
        }
        let (encoding, encodedBody) = BodyEncoding.encode(BodyEncoding.canonicalLines(body))

        var lines: [String] = []
        lines.append("Date: \(RFC5322Date.format(date))")
        lines += HeaderEncoding.fold(name: "From", tokens: from.headerTokens())
        lines += HeaderEncoding.fold(name: "To", tokens: Self.addressListTokens(to))
        lines += HeaderEncoding.unstructured(name: "Subject", value: subject)
        lines.append("Message-ID: \(id.value)")
        lines.append("MIME-Version: 1.0")
        lines.append("Content-Type: text/plain; charset=utf-8")
        lines.append("Content-Transfer-Encoding: \(encoding.rawValue)")
        for header in headers { lines += HeaderEncoding.unstructured(name: header.name, value: header.value) }

        var bytes: [UInt8] = []
        bytes.reserveCapacity(lines.reduce(0) { $0 + $1.utf8.count + 2 } + 2 + encodedBody.count)
        for line in lines {
            bytes += line.utf8
            bytes += [13, 10]
        }
        bytes += [13, 10]
        bytes += encodedBody
        guard bytes.count <= limits.maximumMessageSize else {
            throw EmailValidationError(
                .messageTooLarge, field: "message",
                "the encoded email is \(bytes.count) bytes; at most \(limits.maximumMessageSize) bytes are allowed")
        }

        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.headers = headers
        self.date = date
        self.messageID = id
        self.transferEncoding = encoding
        self.bytes = bytes
    }

    /// A message from and to plain addresses, validated as the full initializer does.
    public init(
        from: String, to: String, subject: String, body: String, headers: [EmailHeader] = [],
        limits: Limits = Limits()
    ) throws(EmailValidationError) {
        let sender: Mailbox
        do {
            sender = try Mailbox(from)
        } catch {
            throw EmailValidationError(error.code, field: "from", error.message)
        }
        let recipient: Mailbox
        do {
            recipient = try Mailbox(to)
        } catch {
            throw EmailValidationError(error.code, field: "to", error.message)
        }
        try self.init(from: sender, to: [recipient], subject: subject, body: body, headers: headers, limits: limits)
    }

    private static func check(_ header: EmailHeader, limits: Limits) throws(EmailValidationError) {
        let name = header.name
        guard !name.isEmpty, name.utf8.count <= maximumHeaderNameLength,
            name.utf8.allSatisfy({ $0 >= 33 && $0 <= 126 && $0 != UInt8(ascii: ":") })
        else {
            throw EmailValidationError(
                .invalidHeader, field: name.isEmpty ? "header" : name,
                "a header name must be 1 to \(maximumHeaderNameLength) printable ASCII characters without ':' "
                    + "or spaces")
        }
        guard !reservedHeaderNames.contains(name.lowercased()) else {
            throw EmailValidationError(
                .invalidHeader, field: name, "the header \(name) is set by the email itself and cannot be added")
        }
        try HeaderValue.check(header.value, field: name)
        guard header.value.count <= limits.maximumHeaderValueLength else {
            throw EmailValidationError(
                .invalidHeader, field: name,
                "the value of \(name) is \(header.value.count) characters long; at most "
                    + "\(limits.maximumHeaderValueLength) are allowed")
        }
    }

    /// Mailboxes separated by commas, as fold tokens.
    private static func addressListTokens(_ mailboxes: [Mailbox]) -> [String] {
        var tokens: [String] = []
        for (index, mailbox) in mailboxes.enumerated() {
            var mailboxTokens = mailbox.headerTokens()
            if index < mailboxes.count - 1 { mailboxTokens[mailboxTokens.count - 1] += "," }
            tokens += mailboxTokens
        }
        return tokens
    }
}
