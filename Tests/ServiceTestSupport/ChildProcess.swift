public import Foundation
import Synchronization
import Testing

/// A program the test starts (the built `email-service`, a Python SMTP server): its output lines
/// are collected on a thread of its own, its exit is awaited without blocking Swift concurrency's
/// threads, and it is killed if the test forgets to stop it.
public final class ChildProcess: Sendable {
    private final class Shared: Sendable {
        let output = Mutex<[String]>([])
        let exited = Mutex<(status: Int32?, waiters: [CheckedContinuation<Int32, Never>])>((nil, []))
        /// Set when the output pipe reached its end, so every line is in `output`.
        let outputDone = Mutex(false)
    }

    private let shared = Shared()
    private let process: Process
    private let stdin = Pipe()

    /// The repository (two levels up from this file's folder).
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A built product in .build/debug (built by `swift build --build-tests`).
    public static func product(_ name: String) throws -> String {
        let path = repository.appendingPathComponent(".build/debug/\(name)").path
        guard FileManager.default.isExecutableFile(atPath: path) else {
            Issue.record("\(path) is missing: build with `swift build --build-tests` first (scripts/test.sh does)")
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = stdin
        let shared = self.shared
        process.terminationHandler = { process in
            let waiters = shared.exited.withLock { state in
                state.status = process.terminationStatus
                defer { state.waiters.removeAll() }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: process.terminationStatus) }
        }
        try process.run()
        Thread {
            var pending = Data()
            while true {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                pending.append(chunk)
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                    shared.output.withLock { $0.append(line) }
                    pending.removeSubrange(pending.startIndex...newline)
                }
            }
            if !pending.isEmpty { shared.output.withLock { $0.append(String(decoding: pending, as: UTF8.self)) } }
            shared.outputDone.withLock { $0 = true }
        }.start()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    public var lines: [String] { shared.output.withLock { $0 } }

    /// Waits until a line containing `text` appeared; returns it.
    @discardableResult
    public func waitForLine(containing text: String, timeout: Duration = .seconds(30)) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let line = lines.first(where: { $0.contains(text) }) { return line }
            guard ContinuousClock.now < deadline, process.isRunning || lines.contains(where: { $0.contains(text) })
            else {
                Issue.record("no line containing '\(text)'; output:\n\(lines.joined(separator: "\n"))")
                throw CocoaError(.fileReadUnknown)
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the log line containing `text` and returns the port of the `http://host:port/`
    /// URL in it. Services started on port 0 say there where they listen: a port the test picked
    /// at random could be taken (ports 32768-60999 are the kernel's for outgoing connections).
    public func waitForListeningPort(_ text: String, timeout: Duration = .seconds(30)) async throws -> Int {
        let line = try await waitForLine(containing: text, timeout: timeout)
        guard let scheme = line.range(of: "http://") else {
            Issue.record("no http:// URL in '\(line)'")
            throw CocoaError(.fileReadUnknown)
        }
        let authority = line[scheme.upperBound...].prefix { $0 != "/" && $0 != " " }
        guard let port = authority.split(separator: ":").last.flatMap({ Int($0) }) else {
            Issue.record("no port in the URL of '\(line)'")
            throw CocoaError(.fileReadUnknown)
        }
        return port
    }

    public func signal(_ signal: Int32) { kill(process.processIdentifier, signal) }

    /// Closes the process's stdin (the test SMTP servers exit on that).
    public func closeInput() { try? stdin.fileHandleForWriting.close() }

    /// Waits for the process to end and returns its exit status; kills it after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32 {
        let killer = Task { [process] in
            try await Task.sleep(for: timeout)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { killer.cancel() }
        let status = await withCheckedContinuation { continuation in
            let status = shared.exited.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiters.append(continuation)
                return nil
            }
            if let status { continuation.resume(returning: status) }
        }
        // The exit can be reported before the reader took the last output (a daemon the process
        // started may keep the pipe open, so wait a little, not forever).
        let deadline = ContinuousClock.now + .seconds(2)
        while !shared.outputDone.withLock({ $0 }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return status
    }
}
