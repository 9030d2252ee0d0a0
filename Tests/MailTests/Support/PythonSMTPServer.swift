import Foundation
import Testing

/// A real SMTP server for the tests: aiosmtpd (Debian's `python3-aiosmtpd`) running one of the
/// scripts in `Tests/MailTests/Servers/`, on a free port on loopback, saving what it accepts into a
/// temporary folder.
///
/// Missing python3 or aiosmtpd is a test failure with instructions, never a skip. The server
/// process is stopped when the test's closure returns or throws; and since it exits when its
/// stdin closes, it also goes away if the test process dies.
final class PythonSMTPServer: @unchecked Sendable {
    let port: Int
    let folder: URL
    private let process: Process
    private let stdin: Pipe

    /// The interpreter: `MAIL_TEST_PYTHON`, else Debian's `/usr/bin/python3` (where apt installs
    /// aiosmtpd, whatever `python3` is first on PATH), else `python3` from PATH.
    static var python: String {
        if let chosen = ProcessInfo.processInfo.environment["MAIL_TEST_PYTHON"] { return chosen }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") { return "/usr/bin/python3" }
        return "python3"
    }

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Servers")

    /// Runs `body` with a server started from `script` (e.g. `saving_server.py`), then stops it.
    static func with<T>(
        _ script: String, _ arguments: [String] = [], _ body: (PythonSMTPServer) async throws -> T
    ) async throws -> T {
        let server = try await start(script, arguments)
        do {
            let result = try await body(server)
            await server.stop()
            return result
        } catch {
            await server.stop()
            throw error
        }
    }

    private init(port: Int, folder: URL, process: Process, stdin: Pipe) {
        self.port = port
        self.folder = folder
        self.process = process
        self.stdin = stdin
    }

    private static func start(_ script: String, _ arguments: [String]) async throws -> PythonSMTPServer {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("mail-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let process = Process()
        let python = python
        if python.contains("/") {
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = [scripts.appendingPathComponent(script).path, "--dir", folder.path] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [python, scripts.appendingPathComponent(script).path, "--dir", folder.path] + arguments
        }
        let stdin = Pipe()
        let stdout = Pipe()
        let stderrPath = folder.appendingPathComponent("server.log")
        _ = FileManager.default.createFile(atPath: stderrPath.path, contents: nil)
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: stderrPath)
        process.currentDirectoryURL = scripts
        // No __pycache__ in the source tree.
        process.environment = ProcessInfo.processInfo.environment.merging(["PYTHONDONTWRITEBYTECODE": "1"]) { $1 }
        do {
            try process.run()
        } catch {
            throw ServerUnavailable(detail: "cannot run \(python): \(error)")
        }
        // The first line is "PORT n"; end of file first means the script failed (e.g. no aiosmtpd).
        let handle = stdout.fileHandleForReading
        let firstLine: String = try await withCheckedThrowingContinuation { continuation in
            Thread {
                var bytes: [UInt8] = []
                while true {
                    let data = handle.readData(ofLength: 1)
                    guard let byte = data.first, byte != 10 else { break }
                    bytes.append(byte)
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }.start()
        }
        guard firstLine.hasPrefix("PORT "), let port = Int(firstLine.dropFirst(5)) else {
            process.waitUntilExit()
            let log = (try? String(contentsOf: stderrPath, encoding: .utf8)) ?? ""
            try? FileManager.default.removeItem(at: folder)
            throw ServerUnavailable(detail: "\(python) \(script) did not start: \(log)")
        }
        return PythonSMTPServer(port: port, folder: folder, process: process, stdin: stdin)
    }

    /// Closes the server's stdin (it exits), waits for it on a thread of its own (not the
    /// cooperative pool), and removes its folder. SIGTERM if it has not exited within 5 seconds.
    func stop() async {
        try? stdin.fileHandleForWriting.close()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread { [self] in
                let deadline = Date().addingTimeInterval(5)
                while process.isRunning && Date() < deadline { usleep(10_000) }
                if process.isRunning {
                    process.terminate()
                    process.waitUntilExit()
                }
                try? FileManager.default.removeItem(at: folder)
                continuation.resume()
            }.start()
        }
    }

    /// The server's log (stderr), for failure messages.
    var log: String {
        (try? String(contentsOf: folder.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
    }

    /// The messages saved so far, in order: the bytes received and Python's reading of them.
    func savedMessages() throws -> [SavedMessage] {
        var messages: [SavedMessage] = []
        var index = 1
        while true {
            let base = folder.appendingPathComponent("\(index)")
            guard let json = try? Data(contentsOf: base.appendingPathExtension("json")) else { break }
            let raw = try Data(contentsOf: base.appendingPathExtension("eml"))
            messages.append(
                SavedMessage(raw: Array(raw), parsed: try JSONDecoder().decode(ParsedMessage.self, from: json)))
            index += 1
        }
        return messages
    }
}

struct SavedMessage {
    var raw: [UInt8]
    var parsed: ParsedMessage
}

/// Python's email package's reading of a received message (see Servers/common.py).
struct ParsedMessage: Decodable {
    var mail_from: String
    var mail_options: [String]
    var rcpt_tos: [String]
    var helo: String?
    var authenticated: Bool
    var auth_login: String?
    var auth_mechanism: String?
    var headers: [[String]]
    var subject: String
    var from: String
    var to: String
    var from_display_name: String?
    var to_addresses: [String]
    var message_id: String
    var date: String
    var date_parsed: Bool
    var content_type: String
    var charset: String?
    var transfer_encoding: String?
    var body: String
    var defects: [String]

    func header(_ name: String) -> String? {
        headers.first { $0.first?.lowercased() == name.lowercased() }?.last
    }
}

struct ServerUnavailable: Error, CustomStringConvertible {
    var detail: String
    var description: String {
        """
        the real SMTP server tests need python3 with aiosmtpd: \(detail)
        Install it with `apt-get install python3-aiosmtpd` (scripts/test.sh does), or point MAIL_TEST_PYTHON at \
        an interpreter that has it.
        """
    }
}
