import Foundation
import Testing

/// A RabbitMQ node of a test's own (scripts/broker.sh with its own node name, port and folder),
/// for tests that stop the broker: stopping the shared test broker would break every other test
/// running in parallel. Starting one takes a few seconds.
public final class PrivateBroker: Sendable {
    public let url: String
    private let environment: [String: String]

    /// Starts a node; fails the test with the script's output when it cannot.
    public static func start(_ name: String) async throws -> PrivateBroker {
        let folder = NSTemporaryDirectory() + "broker-\(name)-\(UUID().uuidString.prefix(6))"
        let environment = [
            "BROKER_DIR": folder, "BROKER_NODE": "\(name)-\(UUID().uuidString.prefix(6))@localhost",
            "BROKER_PORT": "5760",
        ]
        let script = ChildProcess.repository.appendingPathComponent("scripts/broker.sh").path
        let start = try await SpawnedCommand.run("/bin/bash", [script, "start"], environment: environment)
        let lines = start.output.split(separator: "\n").map(String.init)
        guard start.status == 0, let line = lines.first(where: { $0.hasPrefix("export AMQP_URL=") }) else {
            Issue.record("could not start a private broker:\n\(start.output)")
            throw CocoaError(.executableLoad)
        }
        return PrivateBroker(url: String(line.dropFirst("export AMQP_URL=".count)), environment: environment)
    }

    private init(url: String, environment: [String: String]) {
        self.url = url
        self.environment = environment
    }

    /// Runs rabbitmqctl against this node (`stop_app`, `start_app`, ...).
    public func ctl(_ arguments: String...) async throws {
        let script = ChildProcess.repository.appendingPathComponent("scripts/broker.sh").path
        let ctl = try await SpawnedCommand.run("/bin/bash", [script, "ctl"] + arguments, environment: environment)
        guard ctl.status == 0 else {
            Issue.record("rabbitmqctl \(arguments.joined(separator: " ")) failed:\n\(ctl.output)")
            throw CocoaError(.executableLoad)
        }
    }

    /// Stops the node and removes its folder.
    public func stop() async {
        let script = ChildProcess.repository.appendingPathComponent("scripts/broker.sh").path
        _ = try? await SpawnedCommand.run("/bin/bash", [script, "stop"], environment: environment)
        if let folder = environment["BROKER_DIR"] { try? FileManager.default.removeItem(atPath: folder) }
    }
}
