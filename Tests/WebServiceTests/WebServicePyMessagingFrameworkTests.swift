import EmailContracts
import Foundation
import ServiceTestSupport
import Testing

/// web-service configured for the tutorial's Python email service: an email submitted through the
/// API reaches the real PyMessagingFramework consumer on the tutorial's queue.
@Suite struct WebServicePyMessagingFrameworkTests {
    @Test func anAcceptedEmailReachesThePythonEmailService() async throws {
        let broker = ProcessInfo.processInfo.environment["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
        let url = try #require(URL(string: broker))
        let queue = "test-emailme_emailservice-\(UUID().uuidString.prefix(8).lowercased())"
        let python =
            ProcessInfo.processInfo.environment["INTEROP_PYTHON"]
            ?? ChildProcess.repository.appendingPathComponent(".venv-interop/bin/python").path
        let pmf = ChildProcess.repository.appendingPathComponent("Tests/MessagingIntegrationTests/Interop/pmf")
        let consumer = try ChildProcess(
            python, [pmf.appendingPathComponent("consumer.py").path, queue, "1"],
            environment: [
                "MQ_HOST": url.host ?? "127.0.0.1", "MQ_PORT": String(url.port ?? 5672),
                "MQ_USERNAME": url.user ?? "guest", "MQ_PASSWORD": url.password ?? "guest",
                "PYTHONPATH": pmf.path,
            ])
        defer { consumer.signal(SIGKILL) }
        try await consumer.waitForLine(containing: "ready")

        let folder = NSTemporaryDirectory() + "web-pmf-\(UUID().uuidString.prefix(8))"
        let web = try ChildProcess(
            try ChildProcess.product("web-service"),
            ["--port", "0", "--outbox", "\(folder)/outbox.log", "--wire-format", "pymessagingframework"],
            environment: ["AMQP_URL": broker, "EMAILME_EMAILSERVICE_QUEUE": queue])
        let port = try await web.waitForListeningPort("listening")
        try await WebServiceOutageTests.waitUntil("web-service ready") {
            try await WebServiceOutageTests.get(port, "/health/ready") == 200
        }
        let (status, _) = try await WebServiceOutageTests.post(
            port, #"{"subject":"From Swift","body":"Über the tutorial's wire","recipient":"bob@example.com"}"#)
        #expect(status == 202)
        let line = try await consumer.waitForLine(containing: "{")
        let received = try JSONDecoder().decode(SendEmail.self, from: Data(line.utf8))
        #expect(
            received == SendEmail(subject: "From Swift", body: "Über the tutorial's wire", recipient: "bob@example.com")
        )
        web.signal(SIGTERM)
        #expect(await web.waitForExit() == 0)
    }
}
