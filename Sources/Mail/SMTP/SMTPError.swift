/// A step of an SMTP session, named the way the protocol names it.
public struct SMTPStep: Hashable, Sendable, CustomStringConvertible {
    public let description: String
    private init(_ description: String) { self.description = description }

    /// Resolving the host and opening the TCP connection.
    public static let connect = SMTPStep("connect")
    /// Waiting for the server's 220 greeting.
    public static let greeting = SMTPStep("greeting")
    public static let ehlo = SMTPStep("EHLO")
    /// The fallback after a 5xx reply to EHLO.
    public static let helo = SMTPStep("HELO")
    public static let auth = SMTPStep("AUTH")
    public static let mailFrom = SMTPStep("MAIL FROM")
    public static let rcptTo = SMTPStep("RCPT TO")
    /// The DATA command, up to the server's 354.
    public static let data = SMTPStep("DATA")
    /// Sending the message and waiting for the reply to the final `.`.
    public static let message = SMTPStep("message")
    public static let quit = SMTPStep("QUIT")
}

/// A failed SMTP delivery: what went wrong, at which step, and what the server said.
///
/// ``isTransient`` tells a service whether to try again later: true for 4xx replies, timeouts,
/// connection failures and replies that are not SMTP; false for 5xx replies and for what no retry
/// can fix (a message larger than the server accepts, credentials the server offers no way to
/// send).
public struct SMTPError: MailError, Hashable {
    /// What kind of failure. Extensible: switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ description: String) { self.description = description }

        /// The server refused with a 4xx or 5xx reply (see ``SMTPError/replyCode``).
        public static let rejected = Code("rejected")
        /// The server replied with a code the step does not expect (a 3xx where a 2xx belongs).
        public static let unexpectedReply = Code("unexpectedReply")
        /// The server sent something that is not an SMTP reply, or one over the size limits.
        public static let malformedReply = Code("malformedReply")
        /// A step took longer than its timeout (``SMTPTimeouts``).
        public static let timeout = Code("timeout")
        /// The host did not resolve or no address accepted the connection.
        public static let connectionFailed = Code("connectionFailed")
        /// The connection broke or the server closed it during the session.
        public static let connectionClosed = Code("connectionClosed")
        /// Credentials are configured but the server offers neither AUTH PLAIN nor AUTH LOGIN, so
        /// they are not sent.
        public static let authenticationUnavailable = Code("authenticationUnavailable")
        /// The message is larger than the SIZE the server announced.
        public static let messageTooLarge = Code("messageTooLarge")
        /// The configuration cannot work (an invalid HELO name, a NUL in the credentials).
        public static let invalidConfiguration = Code("invalidConfiguration")
    }

    public var code: Code
    /// The step that failed.
    public var step: SMTPStep
    /// The server's reply code, when a reply caused the failure.
    public var replyCode: Int?
    /// The server's RFC 3463 enhanced status code (`5.1.1`), when it gave one.
    public var enhancedStatusCode: String?
    /// The server's reply text (lines joined with newlines), when a reply caused the failure.
    public var serverText: String?
    /// What happened, in words.
    public var message: String

    public init(
        _ code: Code, step: SMTPStep, _ message: String, replyCode: Int? = nil, enhancedStatusCode: String? = nil,
        serverText: String? = nil
    ) {
        self.code = code
        self.step = step
        self.message = message
        self.replyCode = replyCode
        self.enhancedStatusCode = enhancedStatusCode
        self.serverText = serverText
    }

    /// An error for a reply the step did not want: ``Code/rejected`` for 4xx and 5xx,
    /// ``Code/unexpectedReply`` otherwise.
    init(step: SMTPStep, reply: SMTPReply, _ message: String) {
        let refused = reply.isTransientNegative || reply.isPermanentNegative
        self.init(
            refused ? .rejected : .unexpectedReply, step: step, message, replyCode: reply.code,
            enhancedStatusCode: reply.enhancedStatusCode, serverText: reply.text)
    }

    /// True for 4xx replies, timeouts, connection failures and malformed or unexpected replies;
    /// false for 5xx replies, ``Code/messageTooLarge``, ``Code/authenticationUnavailable`` and
    /// ``Code/invalidConfiguration``.
    public var isTransient: Bool {
        switch code {
        case .rejected: (400..<500).contains(replyCode ?? 0)
        case .authenticationUnavailable, .messageTooLarge, .invalidConfiguration: false
        default: true
        }
    }

    /// `SMTP RCPT TO failed: the server rejected the recipient bob@example.com: 550 5.1.1 no such user`.
    public var description: String {
        var text = "SMTP \(step) failed: \(message)"
        if let replyCode {
            text += ": \(replyCode)"
            if let serverText, !serverText.isEmpty {
                text += " " + serverText.replacingNewlines()
            }
        }
        return text
    }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        split(separator: "\n", omittingEmptySubsequences: false).joined(separator: " / ")
    }
}
