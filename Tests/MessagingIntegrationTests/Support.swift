import AMQPWire
import Foundation
import Messaging
import Observability
import ServiceTestSupport
import Synchronization
import Testing

/// The broker the tests use (AMQP_URL, set by scripts/test.sh). Unreachable is a failure, never a skip.
enum TestBroker {
    static var url: String {
        ProcessInfo.processInfo.environment["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    }

    static func connect() async throws -> AMQPConnection {
        do {
            return try await AMQPConnection.connect(url: url)
        } catch {
            Issue.record(
                "cannot reach the RabbitMQ broker at \(url): \(error). Run scripts/test.sh, or start one with `eval \"$(scripts/broker.sh start)\"`."
            )
            throw error
        }
    }

    /// A connection named `name` (to find it with rabbitmqctl) that recovers quickly.
    static func connect(name: String) async throws -> AMQPConnection {
        var configuration = try AMQPConnectionConfiguration(url: url)
        configuration.connectionName = name
        configuration.recovery.initialDelay = .milliseconds(50)
        configuration.recovery.maximumDelay = .milliseconds(500)
        return try await AMQPConnection.connect(configuration)
    }

    /// A service name no other test uses (tests run in parallel).
    static func unique(_ prefix: String) -> String { "test-\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }
}

/// Log records kept for assertions (and quiet test output).
final class MemoryLog: LogHandler {
    let lines = Mutex<[String]>([])
    func write(_ record: LogRecord) { lines.withLock { $0.append(LogFormat.line(for: record)) } }
    var logger: Logger { Logger(label: "test", level: .debug, handler: self) }
}

/// Collects values handlers saw, and lets a test wait for a count.
final class Inbox<Value: Sendable>: Sendable {
    private let state = Mutex<(values: [Value], waiters: [(Int, CheckedContinuation<Void, Never>)])>(([], []))

    func add(_ value: Value) {
        let ready = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.values.append(value)
            let count = s.values.count
            let ready = s.waiters.filter { $0.0 <= count }.map(\.1)
            s.waiters.removeAll { $0.0 <= count }
            return ready
        }
        for waiter in ready { waiter.resume() }
    }

    var values: [Value] { state.withLock { $0.values } }

    /// Waits until `count` values arrived, or fails the test after `timeout`.
    func wait(for count: Int, timeout: Duration = .seconds(20)) async throws -> [Value] {
        let arrived = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let done = self.state.withLock { s -> Bool in
                        if s.values.count >= count { return true }
                        s.waiters.append((count, continuation))
                        return false
                    }
                    if done { continuation.resume() }
                }
                return true
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            let first = await group.next() ?? false
            if !first {
                // Release the waiter so the group can finish.
                let waiters = self.state.withLock { s in
                    defer { s.waiters.removeAll() }
                    return s.waiters.map(\.1)
                }
                for waiter in waiters { waiter.resume() }
            }
            group.cancelAll()
            return first
        }
        let values = self.values
        if !arrived || values.count < count {
            Issue.record("expected \(count) values within \(timeout), got \(values.count)")
            throw TimedOut()
        }
        return values
    }

    struct TimedOut: Error {}
}

/// Runs `service` in a task, returns it for cancelling.
func launch(_ service: MessagingService) -> Task<Void, any Error> {
    Task { try await service.run() }
}

/// Waits until the queue exists and has a consumer (the service declared it and started).
func waitForConsumer(on queue: String, connection: AMQPConnection) async throws {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        let channel = try await connection.openChannel()
        if let result = try? await channel.declareQueue(queue, passive: true), result.consumerCount > 0 {
            try? await channel.close()
            return
        }
        try? await Task.sleep(for: .milliseconds(50))
    }
    Issue.record("no consumer on \(queue) after 20 s")
    throw Inbox<Int>.TimedOut()
}
