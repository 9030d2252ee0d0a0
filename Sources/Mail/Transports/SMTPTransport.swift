public import Observability

/// Delivers through an SMTP server with ``SMTPClient``: one connection per message.
public struct SMTPTransport: MailTransport {
    public var client: SMTPClient

    public init(configuration: SMTPConfiguration, logger: Logger? = nil) {
        client = SMTPClient(configuration: configuration, logger: logger)
    }

    public var name: String { "smtp" }

    /// Sends `message`; the receipt's detail is the server's reply to the end of the message.
    ///
    /// - Throws: ``SMTPError``, or `CancellationError`.
    public func deliver(_ message: EmailMessage) async throws -> DeliveryReceipt {
        let reply = try await client.send(message)
        return DeliveryReceipt(
            transport: name, messageID: message.messageID, recipients: message.recipients, detail: "\(reply)")
    }
}
