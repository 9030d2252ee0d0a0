import AMQPWire
import EmailContracts
import Foundation
import Messaging
import Testing

/// Against the real PyMessagingFramework package (the tutorial's 1.1.0 from PyPI).
@Suite struct PyMessagingFrameworkInteropTests {
    static let format = PyMessagingFrameworkFormat(classNames: [SendEmail.messageType: "EmailCommand"])

    @Test func aPythonProducersEmailCommandIsHandledBySwift() async throws {
        let queue = TestBroker.unique("emailme_emailservice")
        let connection = try await TestBroker.connect()
        let service = try await MessagingService.start(
            connection: connection, configuration: .init(name: TestBroker.unique("email")), logger: MemoryLog().logger)
        let inbox = Inbox<SendEmail>()
        service.handle(SendEmail.self, queue: queue, format: Self.format) { command, _ in inbox.add(command) }
        let running = launch(service)
        try await waitForConsumer(on: queue, connection: connection)

        let received = try await PythonPeer.with(
            "pmf/producer.py", arguments: [queue, TestBroker.unique("emailme_webservice"), "3"]
        ) { _ in try await inbox.wait(for: 3) }
        #expect(
            received.sorted { $0.subject < $1.subject }
                == (0..<3).map {
                    SendEmail(
                        subject: "Hello \($0)", body: "Hi Bob,\nthis is mail \($0). Ünïcødé ✓ \"quoted\"",
                        recipient: "bob@example.com")
                })
        running.cancel()
        try await running.value
        try await connection.close()
    }

    @Test func aSwiftProducersEmailCommandReachesAPythonConsumer() async throws {
        let queue = TestBroker.unique("emailme_emailservice")
        let connection = try await TestBroker.connect()
        let sent = [
            SendEmail(subject: "Zoë ✓", body: "line one\n.line two", recipient: "ann@example.com"),
            SendEmail(subject: "second", body: "", recipient: "bob@example.com"),
        ]
        try await PythonPeer.with("pmf/consumer.py", arguments: [queue, "2"]) { consumer in
            try await waitForConsumer(on: queue, connection: connection)
            let bus = try await MessageBus.start(connection: connection, serviceName: "web-service")
            for command in sent { try await bus.send(command, queue: queue, format: Self.format) }
            // The consumer prints one JSON line per command it handled, then exits.
            try await consumer.succeeded(timeout: .seconds(30))
            let json = consumer.stdoutLines.filter { $0.hasPrefix("{") }
            let decoded = try json.map { try JSONDecoder().decode(SendEmail.self, from: Data($0.utf8)) }
            #expect(decoded == sent)
        }
        try await connection.close()
    }

    @Test func anUnmappedPythonClassGoesToTheErrorQueueNamed() async throws {
        let queue = TestBroker.unique("pmf-unmapped")
        let connection = try await TestBroker.connect()
        let service = try await MessagingService.start(
            connection: connection, configuration: .init(name: TestBroker.unique("email"), retry: .none),
            logger: MemoryLog().logger)
        service.handle(SendEmail.self, queue: queue, format: Self.format) { _, _ in }
        let running = launch(service)
        try await waitForConsumer(on: queue, connection: connection)
        let channel = try await connection.openChannel()
        let body = #"{"message": "{\"text\": \"hi\"}", "command_name": "SmsCommand", "command_type": "command"}"#
        try await channel.publish(body, routingKey: queue)
        let failed = try await FailureTests.take(from: Topology.errorQueue(for: queue), connection: connection)
        #expect(failed.bodyString == body)
        #expect(
            failed.properties.headers?[FailureHeaders.errorMessage]?.stringValue?.contains(
                "pymessagingframework:SmsCommand") == true)
        running.cancel()
        try await running.value
        try await connection.close()
    }
}
