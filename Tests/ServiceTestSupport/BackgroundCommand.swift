import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A long-running command that starts daemons (scripts/run.sh), spawned like ``SpawnedCommand``
/// (with default signal handling, as from a terminal) so its exit is seen even while daemons it
/// started live on. Output goes to a file, read back with ``output``.
public final class BackgroundCommand: Sendable {
    public var pid: Int32 { child.pid }
    public let logPath: String
    private let child: SpawnedChild
    private let exitStatus = Mutex<Int32?>(nil)

    public init(_ arguments: [String], environment: [String: String]) throws {
        logPath = NSTemporaryDirectory() + "background-\(UUID().uuidString).log"
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard log >= 0 else { throw SpawnError("cannot create \(logPath): errno \(errno)") }
        defer { close(log) }
        child = try SpawnedCommand.spawn(
            arguments[0], Array(arguments.dropFirst()),
            environment: ProcessInfo.processInfo.environment.merging(environment) { _, new in new }, output: log,
            signalDefaults: true)
    }

    public var output: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func signal(_ signal: Int32) { child.signal(signal) }

    /// Waits (on a thread of its own) for the command to exit; SIGKILL after `timeout`.
    public func waitForExit(timeout: Duration = .seconds(60)) async -> Int32 {
        if let status = exitStatus.withLock({ $0 }) { return status }
        let child = self.child
        let killer = Task {
            try await Task.sleep(for: timeout)
            child.signal(SIGKILL)
        }
        defer { killer.cancel() }
        let status = await child.exit()
        exitStatus.withLock { $0 = status }
        return status
    }

    /// Waits until the output contains `text`.
    public func waitForOutput(_ text: String, timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if output.contains(text) { return true }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return false
    }

    /// Processes whose command line mentions `text` (to check that nothing was left running).
    public static func processes(mentioning text: String) -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> String? in
            guard Int(entry) != nil,
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"), !data.isEmpty
            else { return nil }
            let line = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return line.contains(text) ? "\(entry): \(line)" : nil
        }
    }
}
