import AMQPWire
import EmailContracts
import Messaging
import Testing

/// The README's Messaging example, compiled and run (ReadmeTourTests checks the README's blocks
/// appear here or in its own source verbatim).
@Suite struct ReadmeMessagingTests {
    actor Mailer {
        var sent: [SendEmail] = []
        func send(_ command: SendEmail) throws { sent.append(command) }
    }

    @Test func theReadmeMessagingExampleRuns() async throws {
        let connection = try await TestBroker.connect()
        let mailer = Mailer()

        let service = try await MessagingService.start(
            connection: connection, configuration: .init(name: "readme-email-service"))
        service.handle(SendEmail.self) { command, context in
            try await mailer.send(command)  // throw to retry later; throw Rejected("why") to give up
        }
        let running = Task { try await service.run() }  // until cancelled; then drains handlers in flight

        try await waitForConsumer(on: "readme-email-service", connection: connection)
        let bus = try await MessageBus.start(connection: connection, serviceName: "web-service")
        try await bus.send(  // confirmed by the broker; an error if no queue takes it
            SendEmail(subject: "Hi", body: "Hello", recipient: "ann@example.com"), queue: "readme-email-service")

        let deadline = ContinuousClock.now + .seconds(20)
        while await mailer.sent.isEmpty, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(await mailer.sent == [SendEmail(subject: "Hi", body: "Hello", recipient: "ann@example.com")])
        running.cancel()
        try await running.value
        try await connection.close()
    }
}
