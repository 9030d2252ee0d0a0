import AMQPWire
import EmailContracts
import Foundation
import Messaging
import ServiceTestSupport
import Testing

/// The built `email-service` executable against the real broker.
@Suite struct EmailServiceProcessTests {
    static var brokerURL: String {
        ProcessInfo.processInfo.environment["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    }

    static func temporaryFolder(_ name: String) -> String {
        let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func unique(_ prefix: String) -> String { "test-\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

    static func startService(queue: String, folder: String, instance: Int, extra: [String] = []) throws -> ChildProcess
    {
        try ChildProcess(
            try ChildProcess.product("email-service"),
            [
                "--amqp-url", brokerURL, "--queue", queue, "--transport", "maildir", "--maildir",
                "\(folder)/maildir-\(instance)", "--journal", "\(folder)/journal-\(instance)/delivered.log",
                "--concurrency", "4", "--retry-delays", "0.2,0.5",
            ] + extra)
    }

    /// The `X-Command-Id` of every message delivered into the maildirs under `folder`.
    static func deliveredIDs(in folder: String) -> [String] {
        let files = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
            .filter { $0.hasPrefix("new/") || $0.contains("/new/") }
        return files.compactMap { file in
            guard let text = try? String(contentsOfFile: "\(folder)/\(file)", encoding: .utf8) else { return nil }
            return text.split(separator: "\n").first { $0.hasPrefix("X-Command-Id: ") }.map {
                String($0.dropFirst("X-Command-Id: ".count))
            }
        }
    }

    static func waitForConsumers(_ count: UInt32, on queue: String, connection: AMQPConnection) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let channel = try await connection.openChannel()
            if let result = try? await channel.declareQueue(queue, passive: true), result.consumerCount >= count {
                try? await channel.close()
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("fewer than \(count) consumers on \(queue) after 60 s")
        throw CancellationError()
    }

    @Test func threeInstancesDeliverEachOf300CommandsExactlyOnce() async throws {
        let queue = Self.unique("emails")
        let folder = Self.temporaryFolder("three")
        let services = try (0..<3).map { try Self.startService(queue: queue, folder: folder, instance: $0) }
        let connection = try await AMQPConnection.connect(url: Self.brokerURL)
        try await Self.waitForConsumers(3, on: queue, connection: connection)
        let bus = try await MessageBus.start(connection: connection, serviceName: "test")
        var sent: Set<String> = []
        for n in 0..<300 {
            let metadata = MessageMetadata(messageType: SendEmail.messageType)
            sent.insert(metadata.messageID)
            try await bus.send(
                SendEmail(subject: "Mail \(n)", body: "Body \(n)", recipient: "user\(n)@example.com"), queue: queue,
                metadata: metadata)
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while Self.deliveredIDs(in: folder).count < 300, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        for service in services { service.signal(SIGTERM) }
        for service in services { #expect(await service.waitForExit() == 0) }
        let delivered = Self.deliveredIDs(in: folder)
        #expect(delivered.count == 300)
        #expect(Set(delivered) == sent)
        let perInstance = (0..<3).map { Self.deliveredIDs(in: "\(folder)/maildir-\($0)").count }
        print("email-service: 300 commands over 3 instances, delivered per instance: \(perInstance)")
        #expect(perInstance.allSatisfy { $0 > 0 })
        try await connection.close()
    }

    @Test func aCommandFromThePyMessagingFrameworkProducerIsDelivered() async throws {
        let queue = Self.unique("emailme_emailservice")
        let folder = Self.temporaryFolder("pmf")
        let service = try Self.startService(
            queue: queue, folder: folder, instance: 0, extra: ["--wire-format", "pymessagingframework"])
        let connection = try await AMQPConnection.connect(url: Self.brokerURL)
        try await Self.waitForConsumers(1, on: queue, connection: connection)
        let python =
            ProcessInfo.processInfo.environment["INTEROP_PYTHON"]
            ?? ChildProcess.repository.appendingPathComponent(".venv-interop/bin/python").path
        let url = try #require(URL(string: Self.brokerURL))
        let producer = try ChildProcess(
            python,
            [
                ChildProcess.repository.appendingPathComponent(
                    "Tests/MessagingIntegrationTests/Interop/pmf/producer.py"
                ).path, queue, Self.unique("emailme_webservice"), "2",
            ],
            environment: [
                "MQ_HOST": url.host ?? "127.0.0.1", "MQ_PORT": String(url.port ?? 5672),
                "MQ_USERNAME": url.user ?? "guest", "MQ_PASSWORD": url.password ?? "guest",
                "PYTHONPATH": ChildProcess.repository.appendingPathComponent(
                    "Tests/MessagingIntegrationTests/Interop/pmf"
                ).path,
            ])
        #expect(await producer.waitForExit() == 0)
        let deadline = ContinuousClock.now + .seconds(30)
        while Self.deliveredIDs(in: folder).count < 2, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(Self.deliveredIDs(in: folder).count == 2)
        let texts = (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
            .filter { $0.contains("/new/") }
            .compactMap { try? String(contentsOfFile: "\(folder)/\($0)", encoding: .utf8) }
        #expect(texts.contains { $0.contains("Subject: Hello 0") })
        #expect(texts.allSatisfy { $0.contains("To: bob@example.com") })
        service.signal(SIGINT)
        #expect(await service.waitForExit() == 0)
        #expect(service.lines.contains { $0.contains("email sent") && $0.contains("recipient=bob@example.com") })
        try await connection.close()
    }

    @Test(arguments: [
        (["--transport", "pigeon"], "--transport must be one of console, smtp, maildir"),
        (["--transport", "maildir"], "needs --maildir"),
        (["--from", "not an address"], "--from is not a usable sender address"),
        (["--bogus"], "unknown option '--bogus'"),
    ])
    func invalidConfigurationExitsTwoWithAClearMessage(arguments: [String], message: String) async throws {
        let service = try ChildProcess(try ChildProcess.product("email-service"), arguments)
        #expect(await service.waitForExit() == 2)
        #expect(service.lines.contains { $0.hasPrefix("email-service: ") && $0.contains(message) })
    }

    @Test func healthAndMetricsAreServedWhenAPortIsGiven() async throws {
        let queue = Self.unique("http")
        let folder = Self.temporaryFolder("http")
        // Below the kernel's ports for outgoing connections (32768-60999); 0 turns the server off.
        let service = try Self.startService(
            queue: queue, folder: folder, instance: 0, extra: ["--http-port", String(Int.random(in: 20_000...29_999))])
        let port = try await service.waitForListeningPort("serving /health and /metrics")
        let connection = try await AMQPConnection.connect(url: Self.brokerURL)
        let bus = try await MessageBus.start(connection: connection, serviceName: "test")
        try await bus.send(SendEmail(subject: "Counted", body: "b", recipient: "ann@example.com"), queue: queue)
        try await service.waitForLine(containing: "email sent")
        func fetch(_ path: String) async throws -> [String] {
            let curl = try ChildProcess(
                "/usr/bin/curl", ["-s", "-w", "\n%{http_code}\n", "http://127.0.0.1:\(port)\(path)"])
            _ = await curl.waitForExit()
            return curl.lines
        }
        #expect(try await fetch("/health/ready").last == "200")
        let metrics = try await fetch("/metrics")
        #expect(metrics.contains(#"emails_total{outcome="sent"} 1"#))
        #expect(metrics.contains { $0.hasPrefix("messaging_handler_duration_seconds_count") })
        service.signal(SIGTERM)
        #expect(await service.waitForExit() == 0)
        try await connection.close()
    }

    @Test func passwordsNeverAppearInTheLogs() async throws {
        let service = try ChildProcess(
            try ChildProcess.product("email-service"),
            ["--mq-port", "1", "--mq-password", "hunter2-secret", "--smtp-password", "smtp-secret"],
            environment: ["AMQP_URL": ""])
        try await service.waitForLine(containing: "not reachable yet")
        service.signal(SIGTERM)
        #expect(await service.waitForExit() == 0)
        #expect(!service.lines.joined().contains("hunter2-secret"))
        #expect(!service.lines.joined().contains("smtp-secret"))
    }
}
