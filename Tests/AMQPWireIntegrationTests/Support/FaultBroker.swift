import AMQPWire
import Foundation
import ServiceTestSupport

/// The single broker the fault tests stop, kill and restart: a private node of its own, never the
/// shared test broker (`AMQP_URL`) other suites use. scripts/test.sh starts it with
/// `BROKER_EXPORT_PREFIX=AMQP_FAULT_ scripts/broker.sh start`, which exports `AMQP_FAULT_URL`,
/// `AMQP_FAULT_BROKER_NODE`, `AMQP_FAULT_BROKER_CTL`, `AMQP_FAULT_BROKER_DIR` and
/// `AMQP_FAULT_BROKER_SCRIPT`. Only suites named Isolated may use it (they run one at a time), and
/// a test that stops or kills it starts it again, also when it fails.
enum FaultBroker {
    static let startCommand =
        "BROKER_DIR=.fault-broker BROKER_NODE=amqpwire-fault@localhost BROKER_PORT=5730 BROKER_EXPORT_PREFIX=AMQP_FAULT_ scripts/broker.sh start"

    static var url: String { get throws { try variable("AMQP_FAULT_URL") } }

    /// Its configuration with short connect timeouts (a refused reconnect fails fast).
    static var configuration: AMQPConnectionConfiguration {
        get throws {
            var config = try AMQPConnectionConfiguration(url: url)
            config.connectionTimeout = .seconds(5)
            return config
        }
    }

    /// rabbitmqctl against the node (`stop_app`, `start_app`, `list_queues` ...).
    @discardableResult
    static func ctl(_ arguments: String...) async throws -> String {
        try await SpawnedCommand.control(
            variable("AMQP_FAULT_BROKER_CTL"), ["-n", variable("AMQP_FAULT_BROKER_NODE")] + arguments)
    }

    /// kill -9 of the node's Erlang VM (a crash: no connection.close, the sockets are reset); returns
    /// once nothing of it runs.
    static func kill() async throws { try await script("kill") }

    /// Starts the node again on its port and returns once it runs RabbitMQ (about 6 s).
    static func restart() async throws { try await script("restart") }

    private static func script(_ command: String) async throws {
        try await SpawnedCommand.control(
            "/bin/bash", [variable("AMQP_FAULT_BROKER_SCRIPT"), command],
            environment: [
                "BROKER_DIR": variable("AMQP_FAULT_BROKER_DIR"), "BROKER_NODE": variable("AMQP_FAULT_BROKER_NODE"),
            ])
    }

    private static func variable(_ name: String) throws -> String {
        try faultTestVariable(name, startedBy: startCommand)
    }
}
