import Foundation
import Synchronization
import Testing

/// A Python peer (the real PyMessagingFramework or Nameko package) run as a child process for an
/// interoperability test. Its stdout lines are collected; it is killed when the test ends.
/// Waiting never blocks Swift concurrency's threads: a thread of its own reads the output.
final class InteropProcess: Sendable {
    let lines = Inbox<String>()
    private let process: Mutex<Process?>

    /// The interop venv's python (scripts/interop-venv.sh creates it; scripts/test.sh runs that
    /// and sets INTEROP_PYTHON).
    static var python: String {
        get throws {
            if let path = ProcessInfo.processInfo.environment["INTEROP_PYTHON"] { return path }
            let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent()
            let path = repo.appendingPathComponent(".venv-interop/bin/python").path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                Issue.record(
                    "no Python interop venv at \(path): run scripts/interop-venv.sh (scripts/test.sh does) or set INTEROP_PYTHON"
                )
                throw InteropUnavailable()
            }
            return path
        }
    }

    struct InteropUnavailable: Error {}

    /// Starts `script` (a path under Interop/) with the broker in the tutorial's variables.
    init(_ script: String, arguments: [String], brokerURL: String) throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop")
        let scriptURL = folder.appendingPathComponent(script)
        let url = URL(string: brokerURL)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.python)
        process.arguments = [scriptURL.path] + arguments
        process.currentDirectoryURL = scriptURL.deletingLastPathComponent()
        var environment = ProcessInfo.processInfo.environment
        environment["MQ_HOST"] = url?.host ?? "127.0.0.1"
        environment["MQ_PORT"] = String(url?.port ?? 5672)
        environment["MQ_USERNAME"] = url?.user ?? "guest"
        environment["MQ_PASSWORD"] = url?.password ?? "guest"
        environment["AMQP_URI"] = brokerURL
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        self.process = Mutex(process)
        try process.run()
        let lines = self.lines
        let reader = Thread {
            var pending = Data()
            let handle = output.fileHandleForReading
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    lines.add(String(decoding: pending[pending.startIndex..<newline], as: UTF8.self))
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
        }
        reader.start()
    }

    /// Waits until the process printed `line`.
    func waitFor(_ line: String, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !lines.values.contains(line) {
            guard ContinuousClock.now < deadline else {
                Issue.record("the Python peer did not print '\(line)' within \(timeout); it printed \(lines.values)")
                throw Inbox<Int>.TimedOut()
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    func stop() {
        process.withLock { process in
            if let process, process.isRunning { process.terminate() }
        }
    }

    deinit { stop() }
}
