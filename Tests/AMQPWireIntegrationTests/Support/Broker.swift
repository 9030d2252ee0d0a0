import AMQPWire
import Foundation
import Testing

/// The broker the integration tests use: `AMQP_URL` (scripts/test.sh starts a private one and
/// sets it). Unreachable means failure, never a silent skip; only `AMQPWIRE_SKIP_INTEGRATION=1`
/// skips these tests, visibly.
enum Broker {
    static var url: String {
        ProcessInfo.processInfo.environment["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    }

    static let enabled = ProcessInfo.processInfo.environment["AMQPWIRE_SKIP_INTEGRATION"] != "1"

    static var configuration: AMQPConnectionConfiguration {
        get throws {
            var config = try AMQPConnectionConfiguration(url: url)
            config.connectionTimeout = .seconds(10)
            return config
        }
    }

    static func connect(
        _ adjust: (inout AMQPConnectionConfiguration) -> Void = { _ in }
    ) async throws -> AMQPConnection {
        var config = try configuration
        adjust(&config)
        do {
            return try await AMQPConnection.connect(config)
        } catch let error as AMQPError where error.code == .connectFailed || error.code == .connectTimeout {
            Issue.record(
                """
                cannot reach the RabbitMQ broker at \(url): \(error.message)
                Run the tests with scripts/test.sh (it starts a private broker), or start one with
                `eval "$(scripts/broker.sh start)"` and set AMQP_URL.
                """)
            throw error
        }
    }

    /// A name no other test uses, for queues and exchanges (tests run in parallel).
    static func unique(_ prefix: String = #function) -> String {
        let clean = prefix.prefix { $0 != "(" }
        return "test.\(clean).\(UUID().uuidString.prefix(8))"
    }

}
