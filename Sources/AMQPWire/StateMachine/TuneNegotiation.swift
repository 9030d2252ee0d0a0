/// The values both sides settle on in `connection.tune` / `tune-ok`.
public struct TuneParameters: Sendable, Hashable {
    /// The highest usable channel id (0 on the wire means 65535).
    public var channelMax: UInt16
    /// The largest frame, framing included.
    public var frameMax: UInt32
    /// Seconds between heartbeats; 0 disables them.
    public var heartbeat: UInt16

    public init(channelMax: UInt16, frameMax: UInt32, heartbeat: UInt16) {
        self.channelMax = channelMax
        self.frameMax = frameMax
        self.heartbeat = heartbeat
    }
}

/// The negotiation rules, as small pure functions (they have edge cases, and tests of their own).
enum TuneNegotiation {
    /// RabbitMQ refuses a frame_max below this; the client never asks for less.
    static let minimumFrameMax: UInt32 = 8192
    /// The most a client that asked for 0 ("the broker's value") accepts.
    static let maximumUnaskedFrameMax: UInt32 = 1 << 20

    /// 0 means "no preference": take the other side's value; otherwise the smaller one.
    static func pick<T: FixedWidthInteger & UnsignedInteger>(client: T, server: T) -> T {
        client == 0 || server == 0 ? max(client, server) : min(client, server)
    }

    static func negotiate(client: TuneParameters, server: AMQPMethod.Connection.Tune) -> TuneParameters {
        var channelMax = pick(client: client.channelMax, server: server.channelMax)
        if channelMax == 0 { channelMax = .max }
        var frameMax = pick(client: client.frameMax, server: server.frameMax)
        // A client with no preference (0) takes the broker's value, but never an unbounded one:
        // a whole frame is buffered before anything can refuse it.
        if client.frameMax == 0 { frameMax = frameMax == 0 ? 131_072 : min(frameMax, maximumUnaskedFrameMax) }
        frameMax = max(frameMax, minimumFrameMax)
        return TuneParameters(
            channelMax: channelMax, frameMax: frameMax,
            heartbeat: pick(client: client.heartbeat, server: server.heartbeat))
    }
}
