import Testing

@testable import AMQPWire

@Suite struct TuneNegotiationTests {
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var client: TuneParameters
        var server: AMQPMethod.Connection.Tune
        var expected: TuneParameters
        var description: String { name }
    }

    /// What the client asks for by default (the numbers).
    static let asked = TuneParameters(channelMax: 2047, frameMax: 131_072, heartbeat: 60)

    static let cases: [Case] = [
        Case(
            name: "RabbitMQ defaults: the client's smaller channel_max, equal frame_max, the smaller heartbeat",
            client: asked, server: .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60),
            expected: .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        Case(
            name: "server offers more than asked: the client's values",
            client: asked, server: .init(channelMax: 65535, frameMax: 1_048_576, heartbeat: 580),
            expected: .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        Case(
            name: "server offers less than asked: the server's values",
            client: asked, server: .init(channelMax: 128, frameMax: 16_384, heartbeat: 10),
            expected: .init(channelMax: 128, frameMax: 16_384, heartbeat: 10)),
        Case(
            name: "server 0 means no limit: the client's values",
            client: asked, server: .init(channelMax: 0, frameMax: 0, heartbeat: 0),
            expected: .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        Case(
            name: "client 0 means no preference: the server's values",
            client: .init(channelMax: 0, frameMax: 0, heartbeat: 0),
            server: .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60),
            expected: .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60)),
        Case(
            name: "both 0: channel_max 65535, frame_max capped at 131072, heartbeats off",
            client: .init(channelMax: 0, frameMax: 0, heartbeat: 0),
            server: .init(channelMax: 0, frameMax: 0, heartbeat: 0),
            expected: .init(channelMax: 65535, frameMax: 131_072, heartbeat: 0)),
        Case(
            name: "a client with no frame_max preference takes the broker's, at most 1 MiB",
            client: .init(channelMax: 0, frameMax: 0, heartbeat: 0),
            server: .init(channelMax: 0, frameMax: 4_294_967_295, heartbeat: 0),
            expected: .init(channelMax: 65535, frameMax: 1_048_576, heartbeat: 0)),
        Case(
            name: "mixed zeros pick per field",
            client: .init(channelMax: 0, frameMax: 65_536, heartbeat: 30),
            server: .init(channelMax: 100, frameMax: 0, heartbeat: 0),
            expected: .init(channelMax: 100, frameMax: 65_536, heartbeat: 30)),
        Case(
            name: "frame_max below 8192 from the server is raised to 8192",
            client: asked, server: .init(channelMax: 2047, frameMax: 4096, heartbeat: 60),
            expected: .init(channelMax: 2047, frameMax: 8192, heartbeat: 60)),
        Case(
            name: "frame_max below 8192 from the client is raised to 8192",
            client: .init(channelMax: 2047, frameMax: 1024, heartbeat: 60),
            server: .init(channelMax: 2047, frameMax: 131_072, heartbeat: 60),
            expected: .init(channelMax: 2047, frameMax: 8192, heartbeat: 60)),
        Case(
            name: "frame_max exactly 8192 is kept",
            client: asked, server: .init(channelMax: 1, frameMax: 8192, heartbeat: 1),
            expected: .init(channelMax: 1, frameMax: 8192, heartbeat: 1)),
        Case(
            name: "maximal values on both sides",
            client: .init(channelMax: .max, frameMax: .max, heartbeat: .max),
            server: .init(channelMax: .max, frameMax: .max, heartbeat: .max),
            expected: .init(channelMax: .max, frameMax: .max, heartbeat: .max)),
    ]

    @Test(arguments: cases)
    func negotiatesEachFieldBySmallerNonZeroValue(_ c: Case) {
        #expect(TuneNegotiation.negotiate(client: c.client, server: c.server) == c.expected)
    }

    @Test(arguments: [
        (UInt16(0), UInt16(0), UInt16(0)), (0, 7, 7), (7, 0, 7), (3, 9, 3), (9, 3, 3), (5, 5, 5),
        (.max, 1, 1), (1, .max, 1),
    ])
    func pickTakesTheOtherSideOnZeroElseTheMinimum(client: UInt16, server: UInt16, expected: UInt16) {
        #expect(TuneNegotiation.pick(client: client, server: server) == expected)
        #expect(TuneNegotiation.pick(client: UInt32(client), server: UInt32(server)) == UInt32(expected))
    }

    @Test func negotiatedFrameMaxIsNeverBelowTheMinimumForAnyServerValue() {
        var generator = Xorshift(seed: 42)
        for _ in 0..<1000 {
            let server = UInt32.random(in: 0...20_000, using: &generator)
            let agreed = TuneNegotiation.negotiate(
                client: Self.asked, server: .init(channelMax: 0, frameMax: server, heartbeat: 0))
            #expect(agreed.frameMax >= TuneNegotiation.minimumFrameMax)
            #expect(agreed.frameMax <= Self.asked.frameMax)
        }
    }
}
