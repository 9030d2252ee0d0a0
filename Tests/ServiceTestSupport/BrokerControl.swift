import Foundation

/// rabbitmqctl against the shared test broker, which scripts/test.sh (scripts/broker.sh) starts
/// and names in AMQP_BROKER_CTL and AMQP_BROKER_NODE. Missing variables are a failure that says
/// what to run, never a silent skip.
public enum BrokerControl {
    /// Runs rabbitmqctl with `arguments` and returns its output. Suspends the caller rather than
    /// blocking a thread for the second or so it takes: with tests in parallel on two cores,
    /// blocking waits starved the cooperative pool.
    @discardableResult
    public static func ctl(_ arguments: [String]) async throws -> String {
        let env = ProcessInfo.processInfo.environment
        guard let ctl = env["AMQP_BROKER_CTL"], let node = env["AMQP_BROKER_NODE"] else {
            throw BrokerControlUnavailable()
        }
        let result = try await SpawnedCommand.run(ctl, ["-n", node] + arguments)
        guard result.status == 0 else {
            throw BrokerControlFailed(arguments: arguments, output: result.output)
        }
        return result.output
    }

    /// `ctl` with the arguments listed one by one.
    @discardableResult
    public static func ctl(_ arguments: String...) async throws -> String { try await ctl(arguments) }

    /// The broker's pid for the connection whose client properties mention `name` (its
    /// connection name). The broker lists a connection a moment after its handshake, so this
    /// looks for up to five seconds.
    public static func connectionPID(named name: String) async throws -> String {
        for _ in 0..<50 {
            let output = try await ctl([
                "list_connections", "pid", "client_properties", "--no-table-headers", "--quiet",
            ])
            for line in output.split(separator: "\n") where line.contains(name) {
                if let pid = line.split(separator: "\t").first { return String(pid) }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BrokerControlFailed(arguments: ["list_connections"], output: "no connection named \(name)")
    }

    /// Has the broker close the connection named `name` (320 CONNECTION_FORCED), as an operator's
    /// `rabbitmqctl close_connection` does.
    public static func closeConnection(named name: String, reason: String = "closed by the test") async throws {
        try await ctl(["close_connection", try await connectionPID(named: name), reason])
    }
}

public struct BrokerControlUnavailable: Error, CustomStringConvertible {
    public var description: String {
        "AMQP_BROKER_CTL and AMQP_BROKER_NODE are not set: run the tests with scripts/test.sh, which starts the broker and sets them"
    }
}

public struct BrokerControlFailed: Error, CustomStringConvertible {
    public var arguments: [String]
    public var output: String
    public var description: String { "rabbitmqctl \(arguments.joined(separator: " ")) failed: \(output)" }
}
