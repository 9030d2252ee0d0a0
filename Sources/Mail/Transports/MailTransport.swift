/// Somewhere an email can be delivered: the console, an SMTP server, a Maildir folder.
///
/// A service holds one as `any MailTransport`, chosen by configuration, and treats every failure
/// the same way: a ``MailError`` that ``MailError/isTransient`` is tried again later, any other is
/// final.
public protocol MailTransport: Sendable {
    /// A short name for logs and receipts: `console`, `smtp`, `maildir`.
    var name: String { get }

    /// Delivers `message` to all its recipients, or throws.
    ///
    /// - Throws: a ``MailError`` (``SMTPError``, ``MaildirError``), or `CancellationError`.
    func deliver(_ message: EmailMessage) async throws -> DeliveryReceipt
}

/// What a transport says about a delivery that succeeded.
public struct DeliveryReceipt: Sendable, Hashable, CustomStringConvertible {
    /// The transport's ``MailTransport/name``.
    public var transport: String
    public var messageID: MessageID
    public var recipients: [EmailAddress]
    /// Transport-specific: the SMTP server's final reply (often with its queue ID), the Maildir
    /// file's path.
    public var detail: String

    public init(transport: String, messageID: MessageID, recipients: [EmailAddress], detail: String) {
        self.transport = transport
        self.messageID = messageID
        self.recipients = recipients
        self.detail = detail
    }

    public var description: String {
        "\(transport): \(messageID) to \(recipients.map(\.address).joined(separator: ", ")) (\(detail))"
    }
}
