import Testing

@testable import AMQPWire

/// The handshake deadline, measured in seconds of wall time: in scripts/test.sh's Isolated pass,
/// since a fully loaded two-core machine can stretch the handshake itself past it.
@Suite(.timeLimit(.minutes(1)))
struct IsolatedHandshakeTimingTests {
    @Test func handshakeTimeoutDoesNotApplyOnceOpen() async throws {
        var configuration = AMQPConnectionConfiguration.fakeBroker
        // Generous: under a full parallel test run on two cores the handshake itself can be slow.
        configuration.connectionTimeout = .seconds(3)
        try await FakeBroker.withConnection(configuration) { broker, connection in
            // An idle connection, past the handshake's deadline.
            try await Task.sleep(for: .milliseconds(3500))
            #expect(connection.closeReason == nil)
            _ = try await broker.openChannel(1, on: connection)
        }
    }

}
