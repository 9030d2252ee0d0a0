import AMQPWire
import Foundation
import ServiceTestSupport

/// The three-node RabbitMQ cluster for failover tests. scripts/test.sh starts it with scripts/cluster.sh
/// next to the single broker and exports `AMQP_CLUSTER_URLS` (node 1 first), `AMQP_CLUSTER_NODES` (same
/// order), `AMQP_CLUSTER_DIR`, `AMQP_CLUSTER_SCRIPT` and `AMQP_CLUSTER_CTL`. Without them every member
/// throws `FaultTestSetupMissing`, which fails the test with instructions: never a silent skip
/// (`AMQPWIRE_SKIP_INTEGRATION=1` skips cluster suites as it does the others, through `Broker.enabled`).
///
/// The nodes are shared by every test in the run: a test that kills, restarts or stops a node must be in a
/// suite whose name starts with Isolated (scripts/test.sh runs those alone), and must restart what it
/// killed.
enum Cluster {
    /// One URL per node, node 1 first.
    static var urls: [String] {
        get throws { try variable("AMQP_CLUSTER_URLS").split(separator: ",").map(String.init) }
    }

    /// The node names (`amqpwire-c1@localhost` ...), in the order of `urls`.
    static var nodes: [String] {
        get throws { try variable("AMQP_CLUSTER_NODES").split(separator: " ").map(String.init) }
    }

    /// A configuration with all three nodes as endpoints, tried in order (node 1 first).
    static var configuration: AMQPConnectionConfiguration {
        get throws {
            var config = try AMQPConnectionConfiguration(urls: urls)
            config.connectionTimeout = .seconds(10)
            return config
        }
    }

    /// Connects with `configuration`, adjusted.
    static func connect(
        _ adjust: (inout AMQPConnectionConfiguration) -> Void = { _ in }
    ) async throws -> AMQPConnection {
        var config = try configuration
        adjust(&config)
        return try await AMQPConnection.connect(config)
    }

    /// Runs rabbitmqctl against one node (a name from `nodes`) and returns its output; throws
    /// `ControlCommandFailed` on a non-zero exit, as against a node that is down.
    @discardableResult
    static func ctl(_ node: String, _ arguments: String...) async throws -> String {
        try await ctl(node, arguments)
    }

    static func ctl(_ node: String, _ arguments: [String]) async throws -> String {
        try await SpawnedCommand.control(variable("AMQP_CLUSTER_CTL"), ["-n", node] + arguments)
    }

    /// Kills the node's Erlang VM with SIGKILL (a crash: its clients see their sockets reset, the other
    /// nodes see it go down) and returns once nothing of it is left. Isolated suites only.
    static func kill(_ node: String) async throws {
        try await script("kill", node)
    }

    /// Starts the node again on its ports (stopping it first if it runs) and returns once it is back in
    /// the cluster (about 7 s). Isolated suites only.
    static func restart(_ node: String) async throws {
        try await script("restart", node)
    }

    /// The nodes `node` sees running (`cluster_status`).
    static func runningNodes(seenBy node: String) async throws -> Set<String> {
        let output = try await ctl(node, "cluster_status", "--formatter", "json")
        struct Status: Decodable { var running_nodes: [String] }
        return Set(try JSONDecoder().decode(Status.self, from: Data(output.utf8)).running_nodes)
    }

    /// The node a connection is on, by its client-provided name (`connectionName`), asking the first node
    /// that answers. RabbitMQ 3.10's `list_connections` has no `node` column: the node is the one in the
    /// connection's Erlang pid (`<amqpwire-c2@localhost.1700000000.1234.0>`). Waits up to `timeout` for the
    /// connection to be listed (the broker registers it a moment after connection.open-ok).
    static func nodeOf(connectionNamed name: String, timeout: Duration = .seconds(5)) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastError: (any Error)?
        var lastListing = ""
        repeat {
            for node in try nodes {
                let output: String
                do {
                    output = try await ctl(
                        node, "list_connections", "pid", "client_properties", "--no-table-headers", "--quiet")
                } catch {
                    lastError = error  // that node is down: ask the next
                    continue
                }
                if let found = nodeInListing(output, connectionNamed: name) { return found }
                lastError = nil
                lastListing = output
                break
            }
            try await Task.sleep(for: .milliseconds(200))
        } while clock.now < deadline
        throw ClusterConnectionNotFound(name: name, lastError: lastError, listing: lastListing)
    }

    /// The node of the connection named `name` in `list_connections pid client_properties` output.
    static func nodeInListing(_ output: String, connectionNamed name: String) -> String? {
        // client_properties prints {"connection_name","NAME"} (3.10, table output).
        let needle = "{\"connection_name\",\"\(name)\"}"
        for line in output.split(separator: "\n") where line.contains(needle) {
            guard let pid = line.split(separator: "\t").first, pid.hasPrefix("<"), pid.hasSuffix(">") else {
                continue
            }
            // <node.A.B.C>: the node name is everything before the last three numbers.
            let parts = pid.dropFirst().dropLast().split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count > 3 else { continue }
            return parts.dropLast(3).joined(separator: ".")
        }
        return nil
    }

    private static func script(_ command: String, _ node: String) async throws {
        try await SpawnedCommand.control(
            "/bin/bash", [variable("AMQP_CLUSTER_SCRIPT"), command, node],
            environment: ["CLUSTER_DIR": variable("AMQP_CLUSTER_DIR")])
    }

    private static func variable(_ name: String) throws -> String {
        try faultTestVariable(
            name, startedBy: "scripts/cluster.sh start")
    }
}

struct ClusterConnectionNotFound: Error, CustomStringConvertible {
    var name: String
    var lastError: (any Error)?
    var listing: String
    var description: String {
        "no node of the cluster lists a connection named \(name)"
            + (lastError.map { " (last error: \($0))" } ?? "")
            + (listing.isEmpty ? "" : "; list_connections pid client_properties printed:\n\(listing.prefix(4000))")
    }
}
