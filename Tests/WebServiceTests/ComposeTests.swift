import Foundation
import ServiceTestSupport
import Testing

/// compose/ cannot be run here (no Docker engine), so this checks what can be checked
/// (scripts/check-compose.py): the YAML, build contexts and Dockerfile stages, variables against
/// .env.example, and every flag and variable against the real executables' --help.
@Suite struct ComposeTests {
    @Test func theComposeFilesMatchTheExecutables() async throws {
        let folder = NSTemporaryDirectory() + "compose-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for service in ["email-service", "web-service"] {
            let help = try ChildProcess(try ChildProcess.product(service), ["--help"])
            #expect(await help.waitForExit() == 0)
            try help.lines.joined(separator: "\n").write(
                toFile: "\(folder)/\(service).txt", atomically: true, encoding: .utf8)
        }
        let python =
            ProcessInfo.processInfo.environment["INTEROP_PYTHON"]
            ?? ChildProcess.repository.appendingPathComponent(".venv-interop/bin/python").path
        let check = try ChildProcess(
            python,
            [
                ChildProcess.repository.appendingPathComponent("scripts/check-compose.py").path,
                "--email-help", "\(folder)/email-service.txt", "--web-help", "\(folder)/web-service.txt",
            ])
        let status = await check.waitForExit()
        #expect(status == 0, "\(check.lines.joined(separator: "\n"))")
        #expect(check.lines.contains { $0.contains("email-service") && $0.contains("match --help") })
    }

    @Test func theRunScriptAndEnvExampleUseTheTutorialsNames() throws {
        let env = try String(
            contentsOf: ChildProcess.repository.appendingPathComponent("compose/.env.example"), encoding: .utf8)
        for name in ["MQ_HOST", "MQ_PORT", "MQ_USERNAME", "MQ_PASSWORD", "EMAILME_EMAILSERVICE_QUEUE"] {
            #expect(env.contains("\(name)="), "\(name) missing from .env.example")
        }
    }
}
