import EmailContracts
import Foundation
import Mail
import Messaging
import Observability
import Synchronization
import Testing

@testable import EmailServiceCore

/// A transport that records what it was given and fails as scripted.
final class ScriptedTransport: MailTransport {
    let sent = Mutex<[EmailMessage]>([])
    let failures = Mutex<[any Error]>([])
    var name: String { "scripted" }

    init(failing: [any Error] = []) { failures.withLock { $0 = failing } }

    func deliver(_ message: EmailMessage) async throws -> DeliveryReceipt {
        if let failure = failures.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) { throw failure }
        sent.withLock { $0.append(message) }
        return DeliveryReceipt(
            transport: name, messageID: message.messageID, recipients: message.recipients, detail: "ok")
    }
}

@Suite struct EmailDelivererTests {
    static func setUp(
        _ transport: ScriptedTransport, retry: RetryPolicy = RetryPolicy(immediateRetries: 0, delays: [.seconds(1)])
    ) throws -> (InMemoryMessaging, DeliveryJournal) {
        let messaging = InMemoryMessaging(serviceName: "email-service", retry: retry)
        let journal = try DeliveryJournal(path: NSTemporaryDirectory() + "deliverer-\(UUID().uuidString)/journal")
        EmailDeliverer(
            transport: transport, journal: journal, sender: "noreply@example.com", events: messaging,
            metrics: MetricsRegistryForTests.registry
        ).register(on: messaging)
        return (messaging, journal)
    }

    static let email = SendEmail(subject: "Hi", body: "Hello Ann", recipient: "ann@example.com")

    @Test func aValidCommandIsSentOnceJournalledAndAnnounced() async throws {
        let transport = ScriptedTransport()
        let (messaging, journal) = try Self.setUp(transport)
        let metadata = MessageMetadata(messageType: SendEmail.messageType)
        try await messaging.send(Self.email, metadata: metadata)
        let events = try await messaging.published(EmailSent.self)
        #expect(events.first?.commandID == metadata.messageID)
        let sent = try #require(transport.sent.withLock { $0.first })
        #expect(sent.to.map(\.description) == ["ann@example.com"])
        #expect(sent.subject == "Hi")
        let text = String(decoding: sent.bytes, as: UTF8.self)
        #expect(text.contains("X-Command-Id: \(metadata.messageID)"))
        #expect(journal.contains(metadata.messageID))
    }

    @Test func aRedeliveredCommandIsNotSentAgainButStillAnnounced() async throws {
        let transport = ScriptedTransport()
        let (messaging, _) = try Self.setUp(transport)
        let metadata = MessageMetadata(messageType: SendEmail.messageType)
        try await messaging.send(Self.email, metadata: metadata)
        try await messaging.send(Self.email, metadata: metadata)
        _ = try await messaging.published(EmailSent.self, count: 2)
        try await messaging.idle()
        #expect(transport.sent.withLock { $0.count } == 1)
    }

    @Test(arguments: ["not an address", "ann@example.com\r\nBcc: eve@example.com", "zoë@example.com"])
    func anInvalidRecipientFailsAtOnceWithTheReason(recipient: String) async throws {
        let transport = ScriptedTransport()
        let (messaging, _) = try Self.setUp(transport)
        try await messaging.send(SendEmail(subject: "Hi", body: "b", recipient: recipient))
        let dead = try await messaging.deadLettered()
        #expect(dead.first?.attempts == 1)
        #expect(dead.first?.errorMessage.hasPrefix("invalid email") == true)
        let failed = try await messaging.published(EmailFailed.self)
        #expect(failed.first?.recipient == recipient)
        #expect(transport.sent.withLock { $0.isEmpty })
    }

    @Test func aTemporaryFailureIsRetriedAndThenSent() async throws {
        let transport = ScriptedTransport(failing: [
            SMTPError(.rejected, step: .data, "try later", replyCode: 451)
        ])
        let (messaging, _) = try Self.setUp(transport)
        try await messaging.send(Self.email)
        _ = try await messaging.published(EmailSent.self)
        #expect(transport.sent.withLock { $0.count } == 1)
    }

    @Test func aTemporaryFailureOnTheLastAttemptIsAFinalFailure() async throws {
        let busy = SMTPError(.rejected, step: .data, "busy", replyCode: 451)
        let transport = ScriptedTransport(failing: [busy, busy])
        let (messaging, _) = try Self.setUp(transport)
        try await messaging.send(Self.email)
        let dead = try await messaging.deadLettered()
        #expect(dead.first?.attempts == 2)
        let failed = try await messaging.published(EmailFailed.self)
        #expect(failed.count == 1)
    }

    @Test func aPermanentRefusalIsNotRetried() async throws {
        let transport = ScriptedTransport(failing: [
            SMTPError(.rejected, step: .rcptTo, "no such user", replyCode: 550, enhancedStatusCode: "5.1.1")
        ])
        let (messaging, _) = try Self.setUp(transport)
        try await messaging.send(Self.email)
        let dead = try await messaging.deadLettered()
        #expect(dead.first?.attempts == 1)
        #expect(dead.first?.errorMessage.contains("no such user") == true)
        #expect(try await messaging.published(EmailFailed.self).count == 1)
    }

    @Test func theRPCReturnsTheOutcomeAndRemoteErrors() async throws {
        let transport = ScriptedTransport()
        let (messaging, _) = try Self.setUp(transport)
        let outcome = try await messaging.call(DeliverEmail(subject: "Hi", body: "b", recipient: "bob@example.com"))
        #expect(outcome.status == .sent)
        let error = try await #require(throws: MessagingError.self) {
            try await messaging.call(DeliverEmail(subject: "Hi", body: "b", recipient: "nope"))
        }
        #expect(error.code == .remote)
        #expect(error.message.contains("invalid email"))
    }
}

enum MetricsRegistryForTests {
    static let registry = MetricsRegistry()
}
