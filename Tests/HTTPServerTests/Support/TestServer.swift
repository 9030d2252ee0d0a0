import Foundation
import Observability
import Synchronization

@testable import HTTPServer

/// Runs a server on a free loopback port for the duration of `body`, then cancels it and waits
/// for `run()` to return.
func withTestServer(
    router: Router, metrics: MetricsRegistry? = nil, configuration: HTTPServer.Configuration = testConfiguration(),
    _ body: (HTTPServer) async throws -> Void
) async throws {
    let server = try HTTPServer(
        configuration: configuration, logger: Logger(label: "http-test", level: .critical), metrics: metrics,
        router: router)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        try await body(server)
        group.cancelAll()
        try await group.waitForAll()
    }
}

/// A configuration on a free loopback port, changed by `configure`.
func testConfiguration(_ configure: (inout HTTPServer.Configuration) -> Void = { _ in }) -> HTTPServer.Configuration {
    var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    return configuration
}

/// A flag a handler raises and a test waits for.
final class Signal: Sendable {
    private let raised = Mutex(false)

    func raise() { raised.withLock { $0 = true } }

    var isRaised: Bool { raised.withLock { $0 } }

    /// Waits (polling, without blocking a thread) until raised, or fails after `timeout`.
    func wait(timeout: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !raised.withLock({ $0 }) {
            guard ContinuousClock.now < deadline else { throw TestClientError(description: "signal never raised") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }
}
