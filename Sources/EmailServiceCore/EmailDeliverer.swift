public import EmailContracts
import Foundation
public import Mail
public import Messaging
public import Observability

/// What the email service does with one email, shared by the command handler (fire and forget)
/// and the RPC responder (which returns the outcome).
///
/// - Already in the journal (same message id): not sent again; `EmailSent` is published again,
///   since the first attempt may have died before publishing it (subscribers dedupe by command id).
/// - Invalid (address, header injection, size): never retried; `EmailFailed` published; the
///   command goes to the error queue with the reason.
/// - A transient transport failure (SMTP 4xx, timeout, connection lost, full disk): thrown, so the
///   messaging retry path tries again later; on the last attempt `EmailFailed` is published.
/// - A permanent transport failure (SMTP 5xx): `EmailFailed` published, no retry.
/// - Sent: the id is journalled (fsynced) before `EmailSent` is published and the command acked.
public struct EmailDeliverer: Sendable {
    public var transport: any MailTransport
    public var journal: DeliveryJournal
    /// The From address of every email.
    public var sender: String
    public var events: any MessageSender
    public var metrics: MetricsRegistry
    private let gate = KeyedGate()

    public init(
        transport: any MailTransport, journal: DeliveryJournal, sender: String, events: any MessageSender,
        metrics: MetricsRegistry
    ) {
        self.transport = transport
        self.journal = journal
        self.sender = sender
        self.events = events
        self.metrics = metrics
    }

    /// Registers the command handler and the RPC responder on `registry`.
    public func register(on registry: some HandlerRegistry, queue: String? = nil, format: (any WireFormat)? = nil) {
        registry.handle(SendEmail.self, queue: queue, format: format) { command, context in
            _ = try await deliver(command, context: context)
        }
        registry.respond(to: DeliverEmail.self) { request, context in
            try await deliver(
                SendEmail(subject: request.subject, body: request.body, recipient: request.recipient),
                context: context)
        }
    }

    public func deliver(_ command: SendEmail, context: MessageContext) async throws -> EmailDeliveryOutcome {
        try await gate.withKey(context.metadata.messageID) { try await deliverAlone(command, context: context) }
    }

    private func deliverAlone(_ command: SendEmail, context: MessageContext) async throws -> EmailDeliveryOutcome {
        let id = context.metadata.messageID
        var log = context.logger
        log[metadata: "email-id"] = id
        log[metadata: "recipient"] = command.recipient
        if journal.contains(id) {
            log.info("already delivered; not sending it again")
            count("duplicate")
            try await events.publish(
                EmailSent(commandID: id, recipient: command.recipient, sentAt: Date()),
                metadata: context.follow(EmailSent.messageType))
            return EmailDeliveryOutcome(status: .duplicate, commandID: id)
        }
        let message: EmailMessage
        do {
            message = try EmailMessage(
                from: sender, to: command.recipient, subject: command.subject, body: command.body,
                headers: [EmailHeader("X-Command-Id", id)])
        } catch {
            log.warning("invalid email; not retrying", metadata: ["reason": error.description])
            try await failed(command, id: id, reason: error.description, context: context)
            throw Rejected("invalid email: \(error.description)")
        }
        let receipt: DeliveryReceipt
        do {
            receipt = try await transport.deliver(message)
        } catch let error as any MailError where error.isTransient {
            log.warning(
                context.isLastAttempt ? "delivery failed; no retry left" : "delivery failed; will retry",
                metadata: ["reason": error.description, "attempt": String(context.attempt)])
            if context.isLastAttempt {
                try await failed(command, id: id, reason: error.description, context: context)
            }
            count("retried")
            throw error
        } catch let error as any MailError {
            log.error("delivery refused; not retrying", metadata: ["reason": error.description])
            try await failed(command, id: id, reason: error.description, context: context)
            throw Rejected("delivery refused: \(error.description)")
        }
        try journal.record(id)
        count("sent")
        log.info("email sent", metadata: ["transport": receipt.transport, "detail": receipt.detail])
        try await events.publish(
            EmailSent(commandID: id, recipient: command.recipient, sentAt: Date()),
            metadata: context.follow(EmailSent.messageType))
        return EmailDeliveryOutcome(status: .sent, commandID: id, reference: receipt.detail)
    }

    private func failed(_ command: SendEmail, id: String, reason: String, context: MessageContext) async throws {
        count("failed")
        try await events.publish(
            EmailFailed(commandID: id, recipient: command.recipient, reason: reason),
            metadata: context.follow(EmailFailed.messageType))
    }

    private func count(_ outcome: String) {
        metrics.counter("emails_total", help: "Emails handled, by outcome", labels: ["outcome": outcome]).increment()
    }
}
