import Synchronization
import Testing

@testable import AMQPWire

#if canImport(Glibc)
    import Glibc
#endif

/// A connection that fails the moment its handshake is done, before `connect` has returned.
/// Runs in scripts/test.sh's Isolated pass: it blocks a thread of the cooperative pool on purpose,
/// and on two busy cores the tests beside it could keep that thread from starting for seconds.
@Suite(.timeLimit(.minutes(1)))
struct IsolatedFailureAfterHandshakeTests {
    /// The broker sends connection.open-ok and drops the connection at once, and the I/O thread sees
    /// both before `connect` resumes. The failure is recovered like that of any open connection. It
    /// used to close the connection for good (the connection counted as open only once `connect`
    /// resumed), and `connect` then returned that closed connection as if open. Found by the
    /// integration stairway that cuts the link after every byte.
    @Test func brokerDroppingTheConnectionRightAfterOpenOkIsRecovered() async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        var configuration = AMQPConnectionConfiguration.fakeBroker
        configuration.recovery.isEnabled = true
        // Nothing listens there: recovery keeps trying, so the connection stays recovering.
        configuration.endpoints = [.init(host: "127.0.0.1", port: 1)]
        configuration.recovery.initialDelay = .seconds(5)
        configuration.recovery.maximumDelay = .seconds(5)
        let caller = SlowCaller()
        let fd = broker.clientFD
        let client = Task { try await caller.connect(configuration, fd: fd) }

        try await broker.expectProtocolHeader()
        try await broker.send(method: .connection(.start(FakeBroker.start())))
        _ = try await broker.expectMethod()  // start-ok
        try await broker.send(method: .connection(.tune(.fakeBroker)))
        _ = try await broker.expectMethod()  // tune-ok
        _ = try await broker.expectMethod()  // open
        // connect() cannot resume while its caller's executor is busy: the I/O thread handles open-ok
        // and the end of the connection first, deterministically.
        let holding = Task { await caller.hold(for: .milliseconds(300)) }
        try await eventually("the caller is held", timeout: .seconds(30)) { caller.isHeld }
        try await broker.send(method: .connection(.openOk(.init())), thenClose: ())
        await holding.value

        let connection = try await within("connect()") { try await client.value }
        #expect(connection.isRecovering)
        #expect(connection.closeReason == nil)
        try await connection.close()
        #expect(!connection.isRecovering)
    }
}

/// Calls `connect` on its own executor (the library's async functions run on their caller's), and
/// can block that executor.
private actor SlowCaller {
    private let held = Atomic(false)

    nonisolated var isHeld: Bool { held.load(ordering: .acquiring) }

    func connect(_ configuration: AMQPConnectionConfiguration, fd: Int32) async throws -> AMQPConnection {
        try await AMQPConnection.connect(configuration, socket: TCPSocket(fd: fd))
    }

    /// Blocks the actor's thread, so nothing else runs on the actor meanwhile.
    func hold(for duration: Duration) {
        held.store(true, ordering: .releasing)
        usleep(UInt32(duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000))
        held.store(false, ordering: .releasing)
    }
}
