import AMQPWire
import EmailContracts
import Foundation
import Messaging
import Observability
import ServiceTestSupport
import Testing

/// `email-service --transport smtp` against a real SMTP server (aiosmtpd, Debian's python3-aiosmtpd;
/// the servers are the Mail tests' scripts).
@Suite struct EmailServiceSMTPTests {
    static var python: String { ProcessInfo.processInfo.environment["MAIL_TEST_PYTHON"] ?? "/usr/bin/python3" }

    /// Starts `script` from Tests/MailTests/Servers; returns it and its port.
    static func smtpServer(_ script: String, folder: String) async throws -> (ChildProcess, Int) {
        let path = ChildProcess.repository.appendingPathComponent("Tests/MailTests/Servers/\(script)").path
        let server = try ChildProcess(Self.python, [path, "--dir", folder])
        let line = try await server.waitForLine(containing: "PORT ")
        let port = try #require(Int(line.split(separator: " ").last ?? ""))
        return (server, port)
    }

    @Test func aTemporaryRefusalIsRetriedThroughTheQueueAndDeliveredOnce() async throws {
        let folder = EmailServiceProcessTests.temporaryFolder("smtp-tempfail")
        let (smtp, port) = try await Self.smtpServer("tempfail_server.py", folder: folder)
        defer { smtp.closeInput() }
        let queue = EmailServiceProcessTests.unique("smtp")
        let service = try ChildProcess(
            try ChildProcess.product("email-service"),
            [
                "--amqp-url", EmailServiceProcessTests.brokerURL, "--queue", queue, "--transport", "smtp",
                "--smtp-host", "127.0.0.1", "--smtp-port", String(port), "--retry-delays", "0.3",
                "--journal", "\(folder)/journal/delivered.log",
            ])
        let connection = try await AMQPConnection.connect(url: EmailServiceProcessTests.brokerURL)
        try await EmailServiceProcessTests.waitForConsumers(1, on: queue, connection: connection)
        let bus = try await MessageBus.start(connection: connection, serviceName: "test")
        try await bus.send(
            SendEmail(subject: "Greylisted", body: "Try again", recipient: "ann@example.com"), queue: queue)
        try await service.waitForLine(containing: "email sent")
        let saved = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".eml") }
        #expect(saved.count == 1)
        #expect(service.lines.contains { $0.contains("delivery failed; will retry") && $0.contains("451") })
        service.signal(SIGTERM)
        #expect(await service.waitForExit() == 0)
        try await connection.close()
    }

    @Test func aPermanentRefusalIsReportedAndParkedWithTheReason() async throws {
        let folder = EmailServiceProcessTests.temporaryFolder("smtp-reject")
        let (smtp, port) = try await Self.smtpServer("reject_server.py", folder: folder)
        defer { smtp.closeInput() }
        let queue = EmailServiceProcessTests.unique("smtp-reject")
        let connection = try await AMQPConnection.connect(url: EmailServiceProcessTests.brokerURL)
        // Listen for EmailFailed as another service would.
        let listener = try await MessagingService.start(
            connection: connection, configuration: .init(name: EmailServiceProcessTests.unique("listener")),
            logger: Logger(label: "test", level: .critical))
        let failures = Failures()
        listener.subscribe(to: EmailFailed.self) { event, _ in await failures.add(event) }
        let listening = Task { try await listener.run() }
        let service = try ChildProcess(
            try ChildProcess.product("email-service"),
            [
                "--amqp-url", EmailServiceProcessTests.brokerURL, "--queue", queue, "--transport", "smtp",
                "--smtp-host", "127.0.0.1", "--smtp-port", String(port), "--journal", "\(folder)/journal/d.log",
            ])
        try await EmailServiceProcessTests.waitForConsumers(1, on: queue, connection: connection)
        let bus = try await MessageBus.start(connection: connection, serviceName: "test")
        let metadata = MessageMetadata(messageType: SendEmail.messageType)
        try await bus.send(
            SendEmail(subject: "Hi", body: "b", recipient: "nobody@example.com"), queue: queue, metadata: metadata)
        let deadline = ContinuousClock.now + .seconds(30)
        while await failures.matching(metadata.messageID).isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let failure = try #require(await failures.matching(metadata.messageID).first)
        #expect(failure.reason.contains("550"))
        let channel = try await connection.openChannel()
        var parked: AMQPDelivery?
        while parked == nil, ContinuousClock.now < deadline {
            parked = try await channel.get(queue: Topology.errorQueue(for: queue), noAck: true)
            if parked == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(parked?.properties.messageID == metadata.messageID)
        #expect(parked?.properties.headers?[FailureHeaders.attempts]?.intValue == 1)
        #expect(parked?.properties.headers?[FailureHeaders.errorMessage]?.stringValue?.contains("User unknown") == true)
        service.signal(SIGTERM)
        #expect(await service.waitForExit() == 0)
        listening.cancel()
        try await listening.value
        try await connection.close()
    }
}

actor Failures {
    var events: [EmailFailed] = []
    func add(_ event: EmailFailed) { events.append(event) }
    func matching(_ id: String) -> [EmailFailed] { events.filter { $0.commandID == id } }
}
