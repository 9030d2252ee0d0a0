import Foundation
import ServiceTestSupport
import Testing

/// The system on a three-node RabbitMQ cluster (scripts/test.sh starts it for the Isolated pass and
/// exports AMQP_CLUSTER_*): two email services on a quorum queue and the web service, all given
/// every node; emails submitted while the node they are connected to is killed. Every accepted
/// email must be delivered exactly once.
@Suite struct IsolatedClusterSystemTests {
    static func variable(_ name: String) throws -> String {
        guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else {
            Issue.record("\(name) is not set: run the tests with scripts/test.sh, which starts the cluster")
            throw CocoaError(.featureUnsupported)
        }
        return value
    }

    static func cluster(_ command: String, _ node: String) async throws {
        let result = try await SpawnedCommand.run(
            "/bin/bash", [try variable("AMQP_CLUSTER_SCRIPT"), command, node],
            environment: ["CLUSTER_DIR": try variable("AMQP_CLUSTER_DIR")])
        #expect(result.status == 0, "cluster.sh \(command) \(node) failed:\n\(result.output)")
    }

    @Test func emailsSubmittedWhileANodeIsKilledAreDeliveredExactlyOnce() async throws {
        let urls = try Self.variable("AMQP_CLUSTER_URLS")
        let folder = NSTemporaryDirectory() + "cluster-system-\(UUID().uuidString.prefix(8))"
        let queue = "test-cluster-emails-\(UUID().uuidString.prefix(8).lowercased())"
        let environment = ["AMQP_URL": urls]
        let emails = try (0..<2).map { n in
            try ChildProcess(
                try ChildProcess.product("email-service"),
                [
                    "--queue", queue, "--queue-type", "quorum", "--transport", "maildir", "--maildir",
                    "\(folder)/maildir-\(n)", "--journal", "\(folder)/journal-\(n).log", "--retry-delays", "0.5,1",
                ], environment: environment)
        }
        let web = try ChildProcess(
            try ChildProcess.product("web-service"),
            [
                "--port", "0", "--outbox", "\(folder)/outbox.log", "--email-queue", queue, "--queue-type",
                "quorum",
            ],
            environment: environment)
        defer {
            for process in emails + [web] { process.signal(SIGKILL) }
        }
        let port = try await web.waitForListeningPort("listening")
        try await WebServiceOutageTests.waitUntil("the web service to be ready") {
            try await WebServiceOutageTests.get(port, "/health/ready") == 200
        }
        for email in emails { try await email.waitForLine(containing: "consuming") }

        var accepted: Set<String> = []
        let start = ContinuousClock.now
        var killedAt: ContinuousClock.Instant?
        for n in 0..<60 {
            if n == 20 {
                try await Self.cluster("kill", "1")  // the node every client connected to first
                killedAt = .now
            }
            let (status, body) = try await WebServiceOutageTests.post(
                port, #"{"subject":"Cluster \#(n)","body":"b","recipient":"user\#(n)@example.com"}"#)
            #expect(status == 202)
            if let created = try? JSONDecoder().decode(WebServiceOutageTests.Created.self, from: Data(body.utf8)) {
                accepted.insert(created.id)
            }
        }
        func delivered() -> [String] {
            (0..<2).flatMap { WebServiceOutageTests.deliveredIDs("\(folder)/maildir-\($0)") }
        }
        do {
            try await WebServiceOutageTests.waitUntil("every accepted email delivered", timeout: .seconds(120)) {
                delivered().count >= accepted.count
            }
        } catch {
            for (name, process) in [("email 0", emails[0]), ("email 1", emails[1]), ("web", web)] {
                Issue.record("\(name) said:\n\(process.lines.suffix(25).joined(separator: "\n"))")
            }
            throw error
        }
        try await Task.sleep(for: .seconds(2))  // room for a duplicate to show
        let final = delivered()
        let recovered = ContinuousClock.now - (killedAt ?? start)
        print(
            "[figures] cluster system: \(accepted.count) accepted, \(final.count) delivered, \(Set(final).count) distinct, per instance \((0..<2).map { WebServiceOutageTests.deliveredIDs("\(folder)/maildir-\($0)").count }), all delivered \(recovered) after the kill"
        )
        #expect(accepted.count == 60)
        #expect(final.count == accepted.count)
        #expect(Set(final) == accepted)

        for process in emails + [web] { process.signal(SIGTERM) }
        for process in emails + [web] { #expect(await process.waitForExit() == 0) }
        try await Self.cluster("restart", "1")
    }
}
