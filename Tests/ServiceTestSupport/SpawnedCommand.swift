import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Runs a program to its end (rabbitmqctl, scripts/broker.sh, scripts/cluster.sh) without blocking a thread of the
/// cooperative pool: the caller is suspended while a dedicated thread waits in `waitpid`, and the output
/// goes to a temporary file, read once the program has ended (a pipe nobody drains while the program
/// runs would fill up and stall it).
///
/// Why not Foundation's `Process`: `waitUntilExit` parks a pool thread for the whole run (two such waits
/// stall every other test on a two-core machine), and on Linux `Process` learns of the exit from EOF on a
/// socket the child inherits, so a grandchild that keeps it open (`rabbitmq-server -detached` in
/// `cluster.sh restart`) hides the exit for ever; `terminationHandler` is never called.
///
/// The child gets /dev/null as input and none of this process's other descriptors (the proxies' and the
/// connections' sockets would otherwise stay open in it, and in any daemon it starts).
///
/// (``ChildProcess`` is for a program that runs beside the test, a service whose output lines the
/// test watches; ``BackgroundCommand`` for one that starts daemons and is waited for later.)
public enum SpawnedCommand {
    public struct Result: Sendable {
        public var status: Int32
        /// Standard output and standard error, interleaved.
        public var output: String
    }

    /// Runs `executable` (a path) with `arguments`, adding `environment` to this process's environment.
    /// Throws only when the program cannot be started; the exit status (128 + the signal number for a
    /// program killed by a signal) is in `Result.status`. Cancelling the calling task sends it SIGTERM.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> Result {
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("amqpwire-child-\(UUID().uuidString).out").path
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw SpawnError("cannot create \(outputPath): errno \(errno)") }
        defer {
            close(output)
            unlink(outputPath)
        }

        let child = try spawn(
            executable, arguments,
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, output: output)
        let status = await withTaskCancellationHandler {
            await child.exit()
        } onCancel: {
            child.terminate()
        }
        let text = String(decoding: FileManager.default.contents(atPath: outputPath) ?? Data(), as: UTF8.self)
        return Result(status: status, output: text)
    }

    /// Starts `executable` with `output` as its standard output and error, /dev/null as input and
    /// no other descriptor of this process. `signalDefaults`: default signal handling and an empty
    /// mask, as from a terminal (a shell started with SIGINT ignored, as the test runner's
    /// disposition is inherited, could not trap Ctrl-C).
    static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String], output: Int32,
        signalDefaults: Bool = false
    ) throws -> SpawnedChild {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        closeInheritedDescriptors(&actions)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv + envp { free(pointer) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        if signalDefaults {
            var defaults = sigset_t()
            sigemptyset(&defaults)
            for signal in [SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
            var empty = sigset_t()
            sigemptyset(&empty)
            posix_spawnattr_setsigdefault(&attributes, &defaults)
            posix_spawnattr_setsigmask(&attributes, &empty)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else {
            throw SpawnError("cannot run \(executable): \(String(cString: strerror(result)))")
        }
        return SpawnedChild(pid: pid)
    }
}

/// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34), which the Glibc module does not export.
private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
private let addCloseFrom: AddCloseFrom? = dlsym(
    UnsafeMutableRawPointer(bitPattern: 0),  // RTLD_DEFAULT
    "posix_spawn_file_actions_addclosefrom_np"
).map { unsafeBitCast($0, to: AddCloseFrom.self) }

/// Makes the child close every descriptor above 2. Without closefrom, closes the ones open now (a
/// descriptor closed meanwhile is harmless: glibc ignores EBADF for close actions).
private func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
    if let addCloseFrom {
        _ = addCloseFrom(&actions, 3)
        return
    }
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap(Int32.init) where fd > 2 {
        posix_spawn_file_actions_addclose(&actions, fd)
    }
}

/// A started child: waited for on one thread, possibly signalled from another.
final class SpawnedChild: Sendable {
    let pid: pid_t
    /// Set, under the lock, just before the child is reaped: its pid may be reused from then on, so
    /// `terminate()` must not signal it any more.
    private let reaped = Mutex(false)

    init(pid: pid_t) { self.pid = pid }

    /// Blocks until the child exits, reaps it and returns its exit status.
    func waitForExit() -> Int32 {
        // Wait without reaping, so that the pid stays the child's while `terminate()` may use it.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
        var status: Int32 = 0
        reaped.withLock { reaped in
            reaped = true
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// ``waitForExit()`` on a thread of its own, so no thread of the cooperative pool blocks.
    func exit() async -> Int32 {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: self.waitForExit()) }.start()
        }
    }

    func terminate() { signal(SIGTERM) }

    /// Sends `signal`, unless the child was reaped (its pid may belong to another process now).
    func signal(_ signal: Int32) {
        reaped.withLock { reaped in
            if !reaped { kill(pid, signal) }
        }
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

extension SpawnedCommand {
    /// Runs a command that controls a node (rabbitmqctl, scripts/broker.sh, scripts/cluster.sh) and
    /// returns its output; throws `ControlCommandFailed`, with that output, on a non-zero exit.
    @discardableResult
    public static func control(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) async throws -> String {
        let result = try await run(executable, arguments, environment: environment)
        guard result.status == 0 else {
            throw ControlCommandFailed(
                command: ([executable] + arguments).joined(separator: " "), status: result.status,
                output: result.output)
        }
        return result.output
    }
}

public struct ControlCommandFailed: Error, CustomStringConvertible {
    public var command: String
    public var status: Int32
    public var output: String
    public var description: String { "\(command) exited with status \(status): \(output)" }
}
