import Foundation
import POSIXSockets
import Synchronization

/// A fake SMTP server on loopback that plays a script for one connection, on a thread of its
/// own, and records what the client sent. For timeouts and protocol errors a real server will not
/// produce on demand.
final class ScriptedSMTPServer: Sendable {
    enum Step: Sendable {
        /// Writes a reply line, CRLF added.
        case reply(String)
        /// Writes bytes as they are (for malformed or partial replies).
        case raw([UInt8])
        /// Reads one line and records it; a failure if it does not start with the prefix.
        case expect(String)
        /// Reads DATA content up to and including CRLF.CRLF and records it.
        case readData
        /// Stops answering until the client goes away.
        case stall
        /// Closes the connection.
        case close
    }

    private struct State {
        var lines: [String] = []
        var data: [[UInt8]] = []
        var failures: [String] = []
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let port: Int
    private let state = Mutex(State())
    private let listener: UncheckedBox<Socket>

    init(_ script: [Step]) throws {
        let socket = try Socket.listen(host: "127.0.0.1", port: 0)
        port = socket.localPort ?? 0
        listener = UncheckedBox(socket)
        let thread = Thread { [self] in
            run(script)
            let waiters = state.withLock { state in
                state.finished = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = "scripted-smtp"
        thread.start()
    }

    /// What the client sent, one entry per command line (DATA content excluded).
    var lines: [String] { state.withLock { $0.lines } }
    /// Each DATA content received, with its final CRLF.CRLF.
    var data: [[UInt8]] { state.withLock { $0.data } }
    /// Where the client did not follow the script.
    var failures: [String] { state.withLock { $0.failures } }

    /// Stops accepting (a client that never came) and waits until the script's thread is done.
    func finish() async {
        listener.value.shutdown()
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if !state.finished { state.waiters.append(continuation) }
                return state.finished
            }
            if done { continuation.resume() }
        }
    }

    private func record(_ update: (inout State) -> Void) { state.withLock { update(&$0) } }

    private func run(_ script: [Step]) {
        let client: Socket
        do {
            client = try listener.value.accept()
            try client.setNonBlocking()
        } catch {
            return
        }
        defer { client.close() }
        var connection = Connection(socket: client)
        for step in script {
            do {
                switch step {
                case .reply(let line):
                    try connection.write(Array((line + "\r\n").utf8))
                case .raw(let bytes):
                    try connection.write(bytes)
                case .expect(let prefix):
                    let line = try connection.readLine()
                    record { $0.lines.append(line) }
                    if !line.hasPrefix(prefix) {
                        record { $0.failures.append("expected \(prefix)..., got \(line)") }
                        return
                    }
                case .readData:
                    let content = try connection.readData()
                    record { $0.data.append(content) }
                case .stall:
                    connection.drainUntilClosed(seconds: 30)
                    return
                case .close:
                    return
                }
            } catch {
                record { $0.failures.append("at \(step): \(error)") }
                return
            }
        }
        // Whatever the client sends after the script (it should be nothing, or QUIT).
        while let line = try? connection.readLine(seconds: 2) {
            record { $0.lines.append(line) }
        }
    }

    private struct Connection {
        let socket: Socket
        var buffer: [UInt8] = []

        init(socket: Socket) { self.socket = socket }

        func write(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try socket.write($0, deadline: .now + .seconds(5)) }
        }

        mutating func readLine(seconds: Int64 = 10) throws -> String {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while true {
                if let end = buffer.firstIndex(of: 10) {
                    let line = buffer[..<end].last == 13 ? buffer[..<(end - 1)] : buffer[..<end]
                    defer { buffer.removeFirst(end + 1) }
                    return String(decoding: line, as: UTF8.self)
                }
                try fill(deadline)
            }
        }

        mutating func readData() throws -> [UInt8] {
            let deadline = ContinuousClock.now + .seconds(10)
            let terminator: [UInt8] = [13, 10, 46, 13, 10]
            while true {
                if let range = buffer.firstRange(of: terminator) {
                    defer { buffer.removeFirst(range.upperBound) }
                    return Array(buffer[..<range.upperBound])
                }
                try fill(deadline)
            }
        }

        mutating func drainUntilClosed(seconds: Int64) {
            let deadline = ContinuousClock.now + .seconds(seconds)
            while (try? fill(deadline)) != nil {}
        }

        private mutating func fill(_ deadline: ContinuousClock.Instant) throws {
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = try chunk.withUnsafeMutableBytes { try socket.read(into: $0, deadline: deadline) }
            buffer += chunk[..<n]
        }
    }
}

/// Holds a non-Sendable value that only one thread uses at a time (the listener: the server
/// thread accepts, `finish` only shuts it down, which is safe from any thread).
final class UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
