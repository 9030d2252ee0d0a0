import Foundation
import Synchronization
import Testing

/// A Python peer for an interoperability test: a script under Interop/ (pmf/ for
/// PyMessagingFramework, nameko/ for Nameko), run with the real packages from PyPI in the venv
/// ``python`` finds, as a child process. Its stdout and stderr are read on threads of their own
/// and its exit comes through `terminationHandler`, so no Swift concurrency thread ever blocks on
/// it. It reports the exit status and stderr (a script that fails says why) and makes sure the
/// process is gone when the test ends.
final class PythonPeer: Sendable {
    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    struct InteropUnavailable: Error {}

    private struct LineWaiter {
        var match: @Sendable (String) -> Bool
        var continuation: CheckedContinuation<String, any Error>
    }

    private struct State {
        var lines: [String] = []
        var stderr = ""
        var exitStatus: Int32?
        /// No more lines can come.
        var stdoutClosed = false
        var stderrClosed = false
        /// Exited, and all its output read.
        var finished: Int32? { stdoutClosed && stderrClosed ? exitStatus : nil }
        var lineWaiters: [UUID: LineWaiter] = [:]
        var exitWaiters: [CheckedContinuation<Int32, Never>] = []
    }

    let script: String
    private let process: Process
    private let state = Mutex(State())

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Interop")

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

    private init(script: String, process: Process) {
        self.script = script
        self.process = process
    }

    /// Starts `script` (a path under Interop/) with `arguments` and `environment`, in the script's
    /// folder. The test broker is in AMQP_URI (Nameko) and in the tutorial's MQ_* variables
    /// (PyMessagingFramework).
    static func launch(
        _ script: String, arguments: [String] = [], environment: [String: String] = [:]
    ) throws -> PythonPeer {
        let path = scripts.appendingPathComponent(script)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try python)
        process.arguments = ["-u", path.path] + arguments
        process.currentDirectoryURL = path.deletingLastPathComponent()
        let broker = URL(string: TestBroker.url)
        var env = ProcessInfo.processInfo.environment
        env["AMQP_URI"] = TestBroker.url
        env["MQ_HOST"] = broker?.host ?? "127.0.0.1"
        env["MQ_PORT"] = String(broker?.port ?? 5672)
        env["MQ_USERNAME"] = broker?.user ?? "guest"
        env["MQ_PASSWORD"] = broker?.password ?? "guest"
        env["PYTHONUNBUFFERED"] = "1"
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"
        env.merge(environment) { _, new in new }
        process.environment = env
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        let peer = PythonPeer(script: script, process: process)
        process.terminationHandler = { [weak peer] process in peer?.exited(process.terminationStatus) }
        try process.run()
        Thread { peer.read(stdout.fileHandleForReading, isStdout: true) }.start()
        Thread { peer.read(stderr.fileHandleForReading, isStdout: false) }.start()
        return peer
    }

    /// Runs `body` with a peer started from `script`, and stops the peer afterwards whether
    /// `body` succeeded or threw.
    static func with<T>(
        _ script: String, arguments: [String] = [], environment: [String: String] = [:],
        _ body: (PythonPeer) async throws -> T
    ) async throws -> T {
        let peer = try launch(script, arguments: arguments, environment: environment)
        do {
            let result = try await body(peer)
            await peer.stop()
            return result
        } catch {
            await peer.stop()
            throw error
        }
    }

    /// Blocking reads on a thread of its own, until end of file.
    private func read(_ handle: FileHandle, isStdout: Bool) {
        var partial = Data()
        while true {
            let chunk = handle.availableData
            if chunk.isEmpty { break }
            if !isStdout {
                state.withLock { $0.stderr += String(decoding: chunk, as: UTF8.self) }
                continue
            }
            partial.append(chunk)
            while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: partial[partial.startIndex..<newline], as: UTF8.self)
                partial.removeSubrange(partial.startIndex...newline)
                received(line)
            }
        }
        if isStdout {
            if !partial.isEmpty { received(String(decoding: partial, as: UTF8.self)) }
            closed()
        } else {
            state.withLock { $0.stderrClosed = true }
            resumeExitWaiters()
        }
    }

    private func received(_ line: String) {
        let matched = state.withLock { s -> [CheckedContinuation<String, any Error>] in
            s.lines.append(line)
            let ids = s.lineWaiters.filter { $0.value.match(line) }.map(\.key)
            return ids.compactMap { s.lineWaiters.removeValue(forKey: $0)?.continuation }
        }
        for continuation in matched { continuation.resume(returning: line) }
    }

    private func closed() {
        state.withLock { $0.stdoutClosed = true }
        resumeExitWaiters()
    }

    private func exited(_ status: Int32) {
        state.withLock { $0.exitStatus = status }
        resumeExitWaiters()
    }

    /// Reports the exit once the output is read too, so a failure message has all of stderr.
    private func resumeExitWaiters() {
        let (exitWaiters, lineWaiters, status, stderr) = state.withLock { s in
            guard let status = s.finished else {
                return ([CheckedContinuation<Int32, Never>](), [CheckedContinuation<String, any Error>](), Int32(0), "")
            }
            defer {
                s.exitWaiters.removeAll()
                s.lineWaiters.removeAll()
            }
            return (s.exitWaiters, s.lineWaiters.values.map(\.continuation), status, s.stderr)
        }
        for waiter in exitWaiters { waiter.resume(returning: status) }
        let error = Failed(description: "\(script) exited with status \(status) first; stderr:\n\(stderr.suffix(3000))")
        for waiter in lineWaiters { waiter.resume(throwing: error) }
    }

    var stdoutLines: [String] { state.withLock { $0.lines } }
    var stderr: String { state.withLock { $0.stderr } }

    /// The first stdout line (already printed or still to come) that `match` accepts. Throws when
    /// the process exits first or after `timeout`.
    func line(
        timeout: Duration = .seconds(30), where match: @escaping @Sendable (String) -> Bool
    ) async throws -> String {
        let id = UUID()
        let timer = Task {
            try await Task.sleep(for: timeout)
            let waiter = self.state.withLock { $0.lineWaiters.removeValue(forKey: id) }
            waiter?.continuation.resume(
                throwing: Failed(
                    description: "no matching line from \(self.script) within \(timeout); stdout:\n"
                        + self.stdoutLines.joined(separator: "\n") + "\nstderr:\n\(self.stderr.suffix(3000))"))
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { continuation in
            let outcome = state.withLock { s -> Result<String, any Error>? in
                if let line = s.lines.first(where: match) { return .success(line) }
                if let status = s.finished {
                    return .failure(
                        Failed(description: "\(script) exited with status \(status); stderr:\n\(s.stderr.suffix(3000))")
                    )
                }
                s.lineWaiters[id] = LineWaiter(match: match, continuation: continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    /// The first stdout line that is a JSON object with `"kind": kind`, decoded as `T`.
    func message<T: Decodable>(
        kind: String, as type: T.Type, timeout: Duration = .seconds(30)
    ) async throws -> T {
        let line = try await line(timeout: timeout) { line in
            line.hasPrefix("{") && line.contains("\"kind\": \"\(kind)\"")
        }
        return try JSONDecoder().decode(T.self, from: Data(line.utf8))
    }

    /// Waits for the process to exit by itself, and returns its status.
    func exitStatus(timeout: Duration = .seconds(60)) async throws -> Int32 {
        let timer = Task {
            try await Task.sleep(for: timeout)
            self.process.terminate()
        }
        defer { timer.cancel() }
        return await withCheckedContinuation { continuation in
            let status = state.withLock { s -> Int32? in
                if let status = s.finished { return status }
                s.exitWaiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
    }

    /// Waits for the process to exit by itself; throws, with its stderr, unless it succeeded.
    func succeeded(timeout: Duration = .seconds(60)) async throws {
        let status = try await exitStatus(timeout: timeout)
        guard status == 0 else {
            throw Failed(description: "\(script) exited with status \(status); stderr:\n\(stderr.suffix(3000))")
        }
    }

    /// Ends the process: SIGTERM, then SIGKILL if it is still there after five seconds.
    func stop() async {
        guard state.withLock({ $0.exitStatus == nil }) else { return }
        process.terminate()
        let killer = Task {
            try await Task.sleep(for: .seconds(5))
            kill(self.process.processIdentifier, SIGKILL)
        }
        _ = try? await exitStatus(timeout: .seconds(10))
        killer.cancel()
    }
}
