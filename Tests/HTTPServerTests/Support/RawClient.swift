import Foundation
import POSIXSockets

/// Runs blocking work on a thread of its own. Tests must not block Swift concurrency's cooperative
/// threads (two on a two-core machine): the server's handlers need them to answer.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// A response as a test sees it.
struct TestResponse: Sendable {
    var status: Int
    /// Names lowercased.
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? { headers.first { $0.0 == name.lowercased() }?.1 }
    var text: String { String(decoding: body, as: UTF8.self) }
}

struct TestClientError: Error, CustomStringConvertible {
    var description: String
}

/// A plain TCP client speaking raw bytes to the server, with a deadline on every read.
final class RawClient: @unchecked Sendable {
    // @unchecked: each test uses its client from one task at a time.
    private let socket: Socket
    private var buffer: [UInt8] = []

    private init(socket: Socket) { self.socket = socket }

    static func connect(port: Int) async throws -> RawClient {
        try await onThread {
            RawClient(socket: try Socket.connect(host: "127.0.0.1", port: port, deadline: .now + .seconds(5)))
        }
    }

    func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) async throws {
        try await onThread {
            try bytes.withUnsafeBytes { try self.socket.write($0, deadline: .now + .seconds(5)) }
        }
    }

    /// Reads one response (a HEAD response has no body); nil when the server closed first.
    func readResponse(head: Bool = false, timeout: Duration = .seconds(10)) async throws -> TestResponse? {
        try await onThread { try self.readResponseBlocking(head: head, deadline: .now + timeout) }
    }

    /// Reads until the server closes; returns what came, or throws at the deadline.
    func readToEnd(timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        try await onThread {
            let deadline = ContinuousClock.now + timeout
            while try self.fill(deadline: deadline) {}
            defer { self.buffer.removeAll() }
            return self.buffer
        }
    }

    /// Reads exactly `count` raw bytes.
    func readBytes(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [UInt8] {
        try await onThread {
            let deadline = ContinuousClock.now + timeout
            while self.buffer.count < count {
                guard try self.fill(deadline: deadline) else { throw TestClientError(description: "closed early") }
            }
            defer { self.buffer.removeFirst(count) }
            return Array(self.buffer[0..<count])
        }
    }

    func close() { socket.close() }

    func shutdownWrite() { socket.shutdownWrite() }

    /// Reads more into the buffer; false at end of stream (a reset counts as the end too).
    private func fill(deadline: ContinuousClock.Instant) throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        do {
            let count = try chunk.withUnsafeMutableBytes { try socket.read(into: $0, deadline: deadline) }
            buffer.append(contentsOf: chunk[0..<count])
            return true
        } catch let error as SocketError {
            if error.kind == .closed || error.kind == .io { return false }
            throw error
        }
    }

    private func readResponseBlocking(head: Bool, deadline: ContinuousClock.Instant) throws -> TestResponse? {
        let separator = Array("\r\n\r\n".utf8)
        var end: Int?
        while true {
            if let found = buffer.firstRange(of: separator) {
                end = found.upperBound
                break
            }
            guard try fill(deadline: deadline) else {
                if buffer.isEmpty { return nil }
                throw TestClientError(
                    description: "closed inside a response head: \(String(decoding: buffer, as: UTF8.self))")
            }
        }
        guard let end else { return nil }
        let headText = String(decoding: buffer[0..<end - 4], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, statusLine[0] == "HTTP/1.1", let status = Int(statusLine[1]) else {
            throw TestClientError(description: "bad status line in \(headText)")
        }
        let headers = lines.map { line -> (String, String) in
            let colon = line.firstIndex(of: ":") ?? line.endIndex
            let value = line[colon...].dropFirst().trimmingCharacters(in: .whitespaces)
            return (line[..<colon].lowercased(), value)
        }
        buffer.removeFirst(end)
        var response = TestResponse(status: status, headers: headers, body: [])
        let length = head || status == 204 || status < 200 ? 0 : Int(response.header("content-length") ?? "0") ?? 0
        while buffer.count < length {
            guard try fill(deadline: deadline) else { throw TestClientError(description: "closed inside a body") }
        }
        response.body = Array(buffer[0..<length])
        buffer.removeFirst(length)
        return response
    }
}
