public import Observability

/// An SMTP client (RFC 5321) for plain TCP: one session per message, with a timeout on every
/// step and bounded reads.
///
/// ```swift
/// let client = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: 2525))
/// let reply = try await client.send(message)   // 250 2.0.0 Ok: queued as 4F2A
/// ```
///
/// A session connects, reads the greeting, says EHLO (HELO if EHLO gets a 5xx), authenticates
/// when credentials are configured (AUTH PLAIN or LOGIN), sends MAIL FROM, one RCPT TO per
/// recipient, DATA with the message dot-stuffed and ended by `CRLF.CRLF`, and QUIT.
/// A recipient refused refuses the whole delivery: nothing is sent to the others.
///
/// The blocking socket work runs on a thread of its own, never on Swift concurrency's pool.
/// Cancelling the calling task closes the connection and throws `CancellationError`; a message
/// that was already sent may have been accepted.
///
/// Not supported: TLS and STARTTLS (credentials cross the network readable: use them only on a
/// trusted network or with a relay on the same host), SMTPUTF8, PIPELINING, CHUNKING.
public struct SMTPClient: Sendable {
    public var configuration: SMTPConfiguration
    /// Logs each session at debug level and each command and reply at trace level, credentials
    /// hidden. Nil logs nothing.
    public var logger: Logger?

    public init(configuration: SMTPConfiguration, logger: Logger? = nil) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Delivers `message` to its recipients through the server, returning the server's reply to
    /// the end of the message (which often names the queue ID).
    ///
    /// - Throws: ``SMTPError`` (see ``SMTPError/isTransient`` for whether to try again later),
    ///   or `CancellationError` when the task is cancelled.
    public func send(_ message: EmailMessage) async throws -> SMTPReply {
        let cancellation = SocketCancellation()
        let configuration = configuration
        let logger = logger.map { log -> Logger in
            var log = log
            log[metadata: "message-id"] = message.messageID.value
            return log
        }
        return try await withTaskCancellationHandler {
            try await onDedicatedThread(name: "smtp \(configuration.host):\(configuration.port)") {
                try SMTPSession.deliver(
                    message, configuration: configuration, logger: logger, cancellation: cancellation)
            }
        } onCancel: {
            cancellation.cancel()
        }
    }
}
