import Foundation
import ServiceTestSupport
import Testing

/// The issue's scenario: stop the broker, submit 100 emails, restart the web service, start the
/// broker: all 100 reach the email service, each once. On a broker of the test's own.
@Suite struct WebServiceOutageTests {
    struct Created: Decodable { var id: String }

    /// POSTs JSON with a raw HTTP/1.1 request through curl (present on the machine).
    static func post(_ port: Int, _ json: String) async throws -> (Int, String) {
        let curl = try ChildProcess(
            "/usr/bin/curl",
            [
                "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}\n", "-X", "POST",
                "http://127.0.0.1:\(port)/api/emails", "-H", "Content-Type: application/json", "-d", json,
            ])
        _ = await curl.waitForExit()
        let lines = curl.lines
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    static func get(_ port: Int, _ path: String) async throws -> Int {
        let curl = try ChildProcess(
            "/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}\n", "http://127.0.0.1:\(port)\(path)"])
        _ = await curl.waitForExit()
        return Int(curl.lines.last ?? "") ?? 0
    }

    static func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ check: () async throws -> Bool)
        async throws
    {
        let deadline = ContinuousClock.now + timeout
        while try await !check() {
            guard ContinuousClock.now < deadline else {
                Issue.record("timed out waiting for \(what)")
                throw CancellationError()
            }
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    static func deliveredIDs(_ maildir: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: "\(maildir)/new")) ?? []
        return files.compactMap { file in
            guard let text = try? String(contentsOfFile: "\(maildir)/new/\(file)", encoding: .utf8) else { return nil }
            return text.split(separator: "\n").first { $0.hasPrefix("X-Command-Id: ") }.map {
                String($0.dropFirst("X-Command-Id: ".count))
            }
        }
    }

    @Test func emailsAcceptedWhileTheBrokerIsDownArriveOnceAfterARestart() async throws {
        let broker = try await PrivateBroker.start("web-outage")
        let folder = NSTemporaryDirectory() + "outage-\(UUID().uuidString.prefix(8))"
        let environment = ["AMQP_URL": broker.url]
        func startWeb() throws -> ChildProcess {
            try ChildProcess(
                try ChildProcess.product("web-service"),
                ["--port", "0", "--outbox", "\(folder)/outbox.log"], environment: environment)
        }
        let email = try ChildProcess(
            try ChildProcess.product("email-service"),
            ["--transport", "maildir", "--maildir", "\(folder)/maildir", "--journal", "\(folder)/journal.log"],
            environment: environment)
        var web = try startWeb()
        do {
            let port = try await web.waitForListeningPort("listening")
            try await Self.waitUntil("web-service ready") { try await Self.get(port, "/health/ready") == 200 }
            try await broker.ctl("stop_app")
            try await Self.waitUntil("readiness to drop") { try await Self.get(port, "/health/ready") == 503 }

            var accepted: Set<String> = []
            for n in 0..<100 {
                let (status, body) = try await Self.post(
                    port, #"{"subject":"Outage \#(n)","body":"Kept safe","recipient":"user\#(n)@example.com"}"#)
                #expect(status == 202)
                if let created = try? JSONDecoder().decode(Created.self, from: Data(body.utf8)) {
                    accepted.insert(created.id)
                }
            }
            #expect(accepted.count == 100)

            web.signal(SIGTERM)
            #expect(await web.waitForExit() == 0)
            web = try startWeb()
            try await broker.ctl("start_app")

            try await Self.waitUntil("100 deliveries", timeout: .seconds(120)) {
                Self.deliveredIDs("\(folder)/maildir").count >= 100
            }
            // A moment for any duplicate to show up before counting.
            try await Task.sleep(for: .seconds(1))
            let delivered = Self.deliveredIDs("\(folder)/maildir")
            #expect(delivered.count == 100)
            #expect(Set(delivered) == accepted)
        } catch {
            Issue.record("outage test failed: \(error)\nweb:\n\(web.lines.suffix(20).joined(separator: "\n"))")
        }
        web.signal(SIGTERM)
        email.signal(SIGTERM)
        _ = await web.waitForExit()
        _ = await email.waitForExit()
        await broker.stop()
    }
}
