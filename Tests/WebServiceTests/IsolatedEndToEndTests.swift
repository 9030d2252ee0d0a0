import Foundation
import ServiceTestSupport
import Testing

/// The whole system through the README's run command, used in a real browser: scripts/run.sh
/// (its own broker, the email service delivering over SMTP to aiosmtpd, the web service), the form
/// submitted in headless Chromium (Tests/EndToEnd/browser_e2e.py), the email found at the SMTP
/// sink, then Ctrl-C and nothing left running. Isolated: Chromium is heavy for a busy 2-core machine.
@Suite struct IsolatedEndToEndTests {
    @Test func theRunCommandServesTheFormInARealBrowserAndStopsCleanly() async throws {
        let folder = NSTemporaryDirectory() + "e2e-\(UUID().uuidString.prefix(8))"
        let sink = "\(folder)/smtp"
        try FileManager.default.createDirectory(atPath: sink, withIntermediateDirectories: true)
        let smtp = try ChildProcess(
            "/usr/bin/python3",
            [
                ChildProcess.repository.appendingPathComponent("Tests/MailTests/Servers/saving_server.py").path,
                "--dir", sink,
            ])
        defer { smtp.closeInput() }
        let portLine = try await smtp.waitForLine(containing: "PORT ")
        let smtpPort = String(portLine.split(separator: " ").last ?? "")
        let webPort = String(Int.random(in: 20_000...29_999))  // below the kernel's outgoing ports (32768-60999)
        let node = "e2e-\(UUID().uuidString.prefix(6))@localhost"

        let run = try BackgroundCommand(
            ["/bin/bash", ChildProcess.repository.appendingPathComponent("scripts/run.sh").path],
            environment: [
                "RUN_BUILD": "debug", "RUN_STATE_DIR": "\(folder)/state", "RUN_BROKER_NODE": node,
                "RUN_BROKER_PORT": "5700", "WEB_PORT": webPort, "EMAIL_TRANSPORT": "smtp",
                "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtpPort, "AMQP_URL": "",
            ])
        let started = await run.waitForOutput("Open http://127.0.0.1:\(webPort)/", timeout: .seconds(120))
        #expect(started, "run.sh did not come up:\n\(run.output)")

        if started {
            // A second run is refused with a clear message while the first is up.
            let second = try BackgroundCommand(
                ["/bin/bash", ChildProcess.repository.appendingPathComponent("scripts/run.sh").path],
                environment: ["RUN_STATE_DIR": "\(folder)/state", "WEB_PORT": webPort, "RUN_BUILD": "debug"])
            #expect(await second.waitForExit() == 1)
            #expect(second.output.contains("already running"))

            let browser = try ChildProcess(
                "/usr/bin/python3",
                [
                    ChildProcess.repository.appendingPathComponent("Tests/EndToEnd/browser_e2e.py").path,
                    "http://127.0.0.1:\(webPort)/", sink,
                ])
            let status = await browser.waitForExit(timeout: .seconds(180))
            print(browser.lines.filter { $0.hasPrefix("ok:") || $0.hasPrefix("FAILED") }.joined(separator: "\n"))
            #expect(status == 0, "the browser test failed:\n\(browser.lines.joined(separator: "\n"))")
            #expect(browser.lines.contains("E2E PASSED"))
        }

        run.signal(SIGINT)  // what Ctrl-C sends
        let exit = await run.waitForExit(timeout: .seconds(90))
        #expect(exit == 130, "run.sh exited \(exit):\n\(run.output)")
        #expect(run.output.contains("nothing left running"))
        let left =
            BackgroundCommand.processes(mentioning: "\(folder)/state") + BackgroundCommand.processes(mentioning: node)
        #expect(left.isEmpty, "still running after Ctrl-C: \(left)")
    }
}
