import Testing

@testable import AMQPWire

/// The whole-delivery fast path (``InboundItem``) must be invisible: the same bytes give the same
/// actions and the same errors as decoding and handing over frame by frame.
@Suite struct WholeDeliveryTests {
    static let deliver = AMQPMethod.Basic.Deliver(
        consumerTag: "amq.ctag-abcdefghijklmnopqrstuv", deliveryTag: 7, redelivered: true, exchange: "ex",
        routingKey: "rk")

    static func deliveryFrames(
        channel: UInt16 = 1, body: [UInt8], properties: BasicProperties = BasicProperties(),
        deliver: AMQPMethod.Basic.Deliver = deliver
    ) -> [AMQPFrame] {
        [
            .method(channel: channel, .basic(.deliver(deliver))),
            .header(channel: channel, ContentHeader(bodySize: UInt64(body.count), properties: properties)),
        ] + (body.isEmpty ? [] : [.body(channel: channel, body[...])])
    }

    static func items(_ bytes: [UInt8], maxFrameSize: UInt32 = 4096) throws -> [InboundItem] {
        var buffer = WireBuffer(bytes: bytes)
        var items: [InboundItem] = []
        var decoder = AMQPFrameDecoder(maxFrameSize: maxFrameSize)
        while let item = try decoder.decodeItem(from: &buffer) {
            items.append(item)
        }
        return items
    }

    @Test func threeWholeFramesBecomeOneDelivery() throws {
        let properties = BasicProperties(contentType: "text/plain", headers: ["k": .int32(1)], deliveryMode: 2)
        for body in [[UInt8](), patternedBody(count: 100), patternedBody(count: 4088)] {
            let frames = Self.deliveryFrames(channel: 3, body: body, properties: properties)
            let items = try Self.items(try frames.encodedBytes() + [AMQPFrame.heartbeat].encodedBytes())
            #expect(items.count == 2)
            guard case .delivery(3, let message) = items.first else {
                Issue.record("not a whole delivery: \(items)")
                continue
            }
            #expect(message == .init(method: .deliver(Self.deliver), properties: properties, body: body))
            guard case .frame(.heartbeat) = items.last else {
                Issue.record("the frame after it was lost: \(items)")
                continue
            }
        }
    }

    /// Anything but three whole, adjacent, well-formed frames on one channel is left to the
    /// frame-by-frame decoder, which meets it exactly as before.
    @Test func otherShapesAreDecodedFrameByFrame() throws {
        let body = patternedBody(count: 10)
        let frames = Self.deliveryFrames(body: body)
        let whole = try frames.encodedBytes()
        var badEnd = whole
        badEnd[badEnd.count - 1] = 0
        let split: [AMQPFrame] = [frames[0], frames[1], .body(channel: 1, body[0..<4]), .body(channel: 1, body[4...])]
        let heartbeatBetween: [AMQPFrame] = [frames[0], .heartbeat, frames[1], frames[2]]
        let headerElsewhere: [AMQPFrame] = [
            frames[0], .header(channel: 2, ContentHeader(bodySize: 10, properties: BasicProperties())), frames[2],
        ]
        let longBody: [AMQPFrame] = [frames[0], frames[1], .body(channel: 1, patternedBody(count: 11)[...])]
        let cases: [(String, [UInt8])] = [
            ("the last byte missing", Array(whole.dropLast())),
            ("the body in two frames", try split.encodedBytes()),
            ("a heartbeat between method and header", try heartbeatBetween.encodedBytes()),
            ("the header on another channel", try headerElsewhere.encodedBytes()),
            ("a body frame longer than announced", try longBody.encodedBytes()),
            ("a bad frame end", badEnd),
        ]
        for (name, bytes) in cases {
            var buffer = WireBuffer(bytes: bytes)
            var decoder = AMQPFrameDecoder(maxFrameSize: 4096)
            let item = try decoder.decodeItem(from: &buffer)
            guard case .frame(.method(1, .basic(.deliver(Self.deliver)))) = item else {
                Issue.record("\(name): \(String(describing: item))")
                continue
            }
        }
    }

    /// A consumer tag that is not UTF-8 decodes repaired, as `readShortString` does, each time:
    /// its repaired form is never taken for the same bytes again.
    @Test func aNonUTF8ConsumerTagIsRepairedEveryTime() throws {
        var method = try [AMQPFrame.method(channel: 1, .basic(.deliver(.init(consumerTag: "ab", deliveryTag: 1))))]
            .encodedBytes()
        method[11 + 1] = 0xFF  // the tag's first byte, after the frame header, ids and length
        let rest = try Array(Self.deliveryFrames(body: [1]).dropFirst()).encodedBytes()
        var byFrame = WireBuffer(bytes: method + rest + method + rest)
        var expected: [AMQPMethod.Basic.Deliver] = []
        while let frame = try AMQPFrameDecoder().decodeFrame(from: &byFrame) {
            if case .method(_, .basic(.deliver(let deliver))) = frame { expected.append(deliver) }
        }
        #expect(expected.map(\.consumerTag) == ["\u{FFFD}b", "\u{FFFD}b"])
        let items = try Self.items(method + rest + method + rest)
        let actual = items.compactMap { item -> AMQPMethod.Basic.Deliver? in
            guard case .delivery(_, let message) = item, case .deliver(let deliver) = message.method else { return nil }
            return deliver
        }
        #expect(actual == expected)
    }

    @Test func aFrameOverTheLimitFailsAsItDidFrameByFrame() throws {
        let bytes = try Self.deliveryFrames(body: patternedBody(count: 5000)).encodedBytes()
        var byFrame = WireBuffer(bytes: bytes)
        var byItem = WireBuffer(bytes: bytes)
        var decoder = AMQPFrameDecoder(maxFrameSize: 4096)
        _ = try decoder.decodeFrame(from: &byFrame)
        _ = try decoder.decodeFrame(from: &byFrame)
        let frameError = try #require(throws: AMQPCodecError.self) { try decoder.decodeFrame(from: &byFrame) }
        #expect(frameError.code == .frameTooLarge)
        #expect(throws: frameError) {
            while try decoder.decodeItem(from: &byItem) != nil {}
        }
    }

    // MARK: Equivalence

    /// A connection with channel 1 and 2 open, 3 closing (the client sent channel.close) and 4
    /// still opening, and a 64-byte message limit; `closing`: the client sent connection.close.
    static func connection(closing: Bool) throws -> ConnectionDriver {
        var driver = ConnectionDriver.opened(ConnectionDriver.handshake(maxMessageSize: 64))
        for request: RequestID in 1...3 { _ = try driver.openChannel(request: request) }
        var actions: [ConnectionAction] = []
        try driver.machine.withChannel(3, into: &actions) { (channel, actions) throws(AMQPError) in
            channel.close(request: 10, into: &actions)
        }
        #expect(driver.machine.openChannel(request: 4, into: &actions) == 4)
        if closing { driver.machine.close(request: 11, into: &actions) }
        return driver
    }

    /// A random stream that starts with a delivery: more deliveries, whole or in pieces, mostly
    /// on the open channels, some on the closing one, a few bodies over the limit, heartbeats and
    /// acks; and rarely a stray header or body, or a delivery on a channel that is opening or not
    /// open (each of which closes the connection).
    static func randomStream(_ rng: inout Xorshift) -> [AMQPFrame] {
        var frames = deliveryFrames(body: patternedBody(count: 10))
        for _ in 0..<40 {
            let roll = Int.random(in: 0..<100, using: &rng)
            let channel: UInt16 = roll < 2 ? UInt16.random(in: 4...5, using: &rng) : roll < 20 ? 3 : roll < 60 ? 1 : 2
            switch Int.random(in: 0..<100, using: &rng) {
            case 0..<10: frames.append(.heartbeat)
            case 10..<20: frames.append(.method(channel: channel, .basic(.ack(.init(deliveryTag: 1)))))
            case 20: frames.append(.header(channel: channel, ContentHeader(bodySize: 3, properties: BasicProperties())))
            case 21: frames.append(.body(channel: channel, [1, 2][...]))
            default:
                // The decoder reuses the last delivery's strings: vary them now and then.
                let tags = [deliver.consumerTag, "amq.ctag-zyxwvutsrqponmlkjihgfe", "c1"]
                let keys = ["rk", "a.routing.key.longer.than.fifteen.bytes", "é"]
                let deliver = AMQPMethod.Basic.Deliver(
                    consumerTag: tags[Int.random(in: 0..<10, using: &rng) / 8 * Int.random(in: 1...2, using: &rng)],
                    deliveryTag: UInt64.random(in: 1...1000, using: &rng), redelivered: Bool.random(using: &rng),
                    exchange: Bool.random(using: &rng) ? "" : "amq.topic",
                    routingKey: keys[Int.random(in: 0..<3, using: &rng)])
                var delivery = deliveryFrames(
                    channel: channel, body: patternedBody(count: Int.random(in: 0...80, using: &rng)), deliver: deliver)
                if case .body(let id, let body) = delivery.last, body.count > 1, Bool.random(using: &rng) {
                    delivery[delivery.count - 1] = .body(channel: id, body.prefix(1))
                    delivery.append(.body(channel: id, body.dropFirst()))
                }
                frames += delivery
            }
        }
        return frames
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func theSameBytesGiveTheSameActions(seed: UInt64) throws {
        var rng = Xorshift(seed: seed)
        let bytes = try Self.randomStream(&rng).encodedBytes()
        var byFrame = try Self.connection(closing: seed % 5 == 0)
        var byItem = try Self.connection(closing: seed % 5 == 0)
        var decoder = AMQPFrameDecoder(maxFrameSize: 4096)

        var expected: [RecordedAction] = []
        var buffer = WireBuffer(bytes: bytes)
        while let frame = try decoder.decodeFrame(from: &buffer) { expected += byFrame.receive(frame).recorded }

        // Read in random chunks, as the socket would deliver them: a delivery is whole in some.
        var actual: [RecordedAction] = []
        var reading = WireBuffer()
        var offset = 0
        var wholeDeliveries = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + Int.random(in: 1...600, using: &rng))
            reading.writeBytes(bytes[offset..<end])
            offset = end
            while let item = try decoder.decodeItem(from: &reading) {
                if case .delivery = item { wholeDeliveries += 1 }
                actual += byItem.step { $0.receive(item, into: &$1) }.recorded
            }
        }
        #expect(reading.readableBytes == 0)
        #expect(actual == expected)
        #expect(wholeDeliveries > 0, "the fast path was not taken")
    }
}
