import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a command that starts daemons (scripts/broker.sh start) and waits for it on a thread of
/// its own, with posix_spawn and waitpid.
///
/// Not Foundation's `Process`: it learns that a child exited when a socket the child inherited
/// closes, and a daemon the child starts inherits that socket too, so the exit is never reported.
/// Output goes to a file, which a daemon may keep open without holding anyone up.
public enum DaemonLauncher {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
    }

    public static func run(_ arguments: [String], environment: [String: String]) async -> Result {
        let outputPath = NSTemporaryDirectory() + "spawn-\(UUID().uuidString).log"
        return await withCheckedContinuation { continuation in
            Thread {
                var status: Int32 = -1
                var actions = posix_spawn_file_actions_t()
                posix_spawn_file_actions_init(&actions)
                posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                posix_spawn_file_actions_adddup2(&actions, 1, 2)
                posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
                let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
                let argv = arguments.map { strdup($0) } + [nil]
                let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
                var pid: pid_t = 0
                if posix_spawn(&pid, arguments[0], &actions, nil, argv, envp) == 0 {
                    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                }
                posix_spawn_file_actions_destroy(&actions)
                for pointer in argv { free(pointer) }
                for pointer in envp { free(pointer) }
                let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
                try? FileManager.default.removeItem(atPath: outputPath)
                // WEXITSTATUS, spelled out (the C macro is not imported).
                let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : -1
                continuation.resume(returning: Result(status: exit, output: output))
            }.start()
        }
    }
}
