/// A connection to a RabbitMQ broker: one TCP connection, one I/O thread, many channels.
///
/// ```swift
/// let connection = try await AMQPConnection.connect(url: "amqp://guest:guest@localhost:5672/%2f")
/// let channel = try await connection.openChannel()
/// try await channel.declareQueue("tasks", durable: true)
/// try await channel.publish(Array("hello".utf8), routingKey: "tasks")
/// try await connection.close()
/// ```
///
/// Safe to use from any number of tasks. Publishing and acknowledging only queue frames for the
/// I/O thread; requests such as `declareQueue` wait for the broker's reply without holding any
/// lock. Release the connection without ``close()`` and its socket is dropped.
public final class AMQPConnection: Sendable {
    let supervisor: ConnectionSupervisor

    private init(supervisor: ConnectionSupervisor) { self.supervisor = supervisor }

    deinit {
        supervisor.close()?.abort(AMQPError(.connectionClosed, "the AMQPConnection was released without close()"))
    }

    /// The current connection's core (tests reach into it).
    var core: ConnectionCore {
        guard let core = supervisor.core else { preconditionFailure("a connected AMQPConnection always has a core") }
        return core
    }

    /// Connects, trying the configured endpoints in order, and completes the AMQP handshake.
    ///
    /// Throws ``AMQPError`` with code `connectFailed`, `connectTimeout`, `authenticationFailed`,
    /// `virtualHostAccessRefused` or `invalidConfiguration`. Once connected, a failure is
    /// recovered as ``AMQPConnectionConfiguration/recovery`` says.
    public static func connect(_ configuration: AMQPConnectionConfiguration) async throws -> AMQPConnection {
        try await connect(configuration, socket: nil)
    }

    /// Connects over `socket` when given (an already-connected descriptor, for tests against a
    /// scripted broker), otherwise to the configured endpoints.
    static func connect(_ configuration: AMQPConnectionConfiguration, socket: TCPSocket?) async throws
        -> AMQPConnection
    {
        try configuration.validate()
        let supervisor = ConnectionSupervisor(configuration: configuration)
        _ = try await supervisor.connectCore(socket: socket)
        return AMQPConnection(supervisor: supervisor)
    }

    /// Connects to the broker an AMQP URI names (see ``AMQPConnectionConfiguration/init(url:)``).
    public static func connect(url: String) async throws -> AMQPConnection {
        try await connect(AMQPConnectionConfiguration(url: url))
    }

    /// Connects, runs `body`, and closes the connection however `body` ends.
    public static func withConnection<R: Sendable>(
        _ configuration: AMQPConnectionConfiguration, _ body: (AMQPConnection) async throws -> R
    ) async throws -> R {
        let connection = try await connect(configuration)
        do {
            let result = try await body(connection)
            try await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Opens a channel on the lowest free id after the last one opened. While the connection
    /// recovers, waits until it is back. Throws `channelLimitReached` when every id up to the
    /// negotiated channel_max is open.
    public func openChannel() async throws -> AMQPChannel {
        let core = try await supervisor.openCore()
        let record = supervisor.newRecord()
        do {
            let handle = try await core.openChannel(record: record)
            record.attach(handle)
            return AMQPChannel(connection: self, record: record)
        } catch {
            record.markClosed(error as? AMQPError)
            supervisor.forget(record)
            throw error
        }
    }

    /// Opens a channel, runs `body`, and closes the channel however `body` ends.
    public func withChannel<R: Sendable>(_ body: (AMQPChannel) async throws -> R) async throws -> R {
        let channel = try await openChannel()
        do {
            let result = try await body(channel)
            try await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Closes every channel and the connection, waiting for the broker's close-ok (at most ten
    /// seconds; then the socket is dropped), and stops any recovery. Closing a closed connection
    /// does nothing; cancelling the waiting task drops the socket at once.
    public func close() async throws {
        guard let core = supervisor.close() else { return }
        let request = core.nextRequestID()
        try await withTaskCancellationHandler {
            _ = try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<ChannelReply, any Error>) in
                core.update { s, _ in
                    s.replyWaiters[request] = continuation
                    if s.closeDeadline == nil { s.closeDeadline = .now + Self.closeTimeout }
                    s.machine.close(request: request, into: &s.actions)
                }
            }
        } onCancel: {
            core.abort(AMQPError(.cancelled, "closing was cancelled: the connection was dropped"))
        }
    }

    /// How long ``close()`` waits for the broker's close-ok.
    static let closeTimeout: Duration = .seconds(10)

    /// Whether the connection is open: connected, and neither recovering nor closed.
    public var isOpen: Bool {
        guard case .open = supervisor.phase else { return false }
        return supervisor.core?.state.withLock { $0.machine.isOpen } ?? false
    }

    /// Whether the connection is recovering from a failure.
    public var isRecovering: Bool {
        if case .recovering = supervisor.phase { return true }
        return false
    }

    /// How many times the connection failed and began to recover. It counts up the moment a
    /// failure is seen, before ``AMQPConnectionEvent/recovering(_:)`` is published, so work
    /// stamped with it can be told apart however late the event is handled: work stamped with a
    /// lower count than the one read when handling the event belongs to a connection that failed.
    public var failureCount: Int { supervisor.failureCount }

    /// Why the connection closed for good, once it has; nil while open or recovering.
    public var closeReason: AMQPError? {
        if case .closed(let reason) = supervisor.phase {
            return reason ?? supervisor.core?.state.withLock { $0.closedError }
        }
        return nil
    }

    /// The channel_max, frame_max and heartbeat both sides agreed on.
    public var tuneParameters: TuneParameters? { supervisor.core?.state.withLock { $0.tune } }

    /// The broker's `connection.start` properties (product, version, capabilities, ...).
    public var serverProperties: FieldTable { supervisor.core?.state.withLock { $0.serverProperties } ?? [:] }

    /// Whether the broker has blocked publishing (`connection.blocked`).
    public var isBlocked: Bool { supervisor.core?.state.withLock { $0.machine.isBlocked } ?? false }

    /// A new subscription to the connection's events (blocked, unblocked, recovery, closed). It
    /// buffers up to 64 events, dropping the oldest when the reader falls behind, and ends when
    /// the connection closes for good.
    public func events() -> BroadcastSubscription<AMQPConnectionEvent> {
        BroadcastSubscription(supervisor.events)
    }

    /// Replaces the connection's secret (for example an expiring OAuth 2 token) without
    /// reconnecting; recovery logs in with it from then on.
    public func updateSecret(_ newSecret: String, reason: String) async throws {
        var scratch = WireBuffer()
        do throws(AMQPCodecError) {
            try scratch.writeShortString(reason, field: "update-secret reason")
        } catch {
            throw AMQPError.invalidArgument(error)
        }
        let core = try await supervisor.openCore()
        let request = core.nextRequestID()
        _ = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ChannelReply, any Error>) in
            core.update { s, _ in
                s.replyWaiters[request] = continuation
                s.machine.updateSecret(
                    request: request, newSecret: Array(newSecret.utf8), reason: reason, into: &s.actions)
            }
        }
        supervisor.secretUpdated(newSecret)
    }
}

extension ConnectionCore {
    /// Ends the connection at once: the socket is dropped and everything waiting fails with `error`.
    func abort(_ error: AMQPError) {
        update { s, _ in s.machine.transportFailed(error, into: &s.actions) }
        wakeup.signal()
    }
}

/// The client properties sent in `connection.start-ok`.
enum ClientProperties {
    static let version = "0.1.0"

    static func make(for configuration: AMQPConnectionConfiguration) -> FieldTable {
        var table: FieldTable = [
            "product": "AMQPWire",
            "version": .string(version),
            "platform": "Swift",
            "copyright": "the AMQPWire authors",
            "information": "A pure-Swift AMQP 0-9-1 client",
            "capabilities": .table([
                "publisher_confirms": true,
                "exchange_exchange_bindings": true,
                "basic.nack": true,
                "consumer_cancel_notify": true,
                "connection.blocked": true,
                "authentication_failure_close": true,
                "per_consumer_qos": true,
                "direct_reply_to": true,
            ]),
        ]
        if let name = configuration.connectionName { table["connection_name"] = .string(name) }
        for entry in configuration.clientProperties { table[entry.key] = entry.value }
        return table
    }
}
