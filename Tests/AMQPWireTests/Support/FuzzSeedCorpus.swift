import AMQPWire
import Foundation

/// The seed inputs of `Fuzz/corpus/frames`: one valid frame (or frame sequence) of every kind, so
/// the fuzzer starts from inputs that reach deep into the decoder instead of from random bytes.
enum FuzzSeedCorpus {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz/corpus/frames")

    static func seeds() throws -> [(name: String, bytes: [UInt8])] {
        var seeds: [(String, [UInt8])] = []
        for method in MethodSamples.nonDefault {
            seeds.append(("seed-method-\(method.id)", try AMQPFrame.method(channel: 1, method).encodedBytes()))
        }
        for fixture in CodecFixture.all {
            let name = fixture.name.replacingOccurrences(of: " ", with: "-")
            seeds.append(("seed-fixture-\(name)", fixture.bytes))
        }
        seeds.append(("seed-field-table", FieldTableFixture.bytes))
        seeds.append(("seed-protocol-header", AMQPFrame.protocolHeader))
        seeds.append(("seed-header-all-properties", try contentFrames(properties: MethodSamples.properties, body: [])))
        seeds.append(
            (
                "seed-publish-three-body-frames",
                try contentFrames(properties: BasicProperties(), body: patternedBody(count: 40))
            ))
        seeds.append(("seed-body", try AMQPFrame.body(channel: 3, [0x68, 0x69]).encodedBytes()))
        // A consumer's stream: deliveries the decoder takes whole (its fast path), one empty.
        let deliver = AMQPMethod.basic(
            .deliver(.init(consumerTag: "amq.ctag-1", deliveryTag: 2, exchange: "ex", routingKey: "rk")))
        seeds.append(
            (
                "seed-whole-deliveries",
                try [
                    .method(channel: 1, deliver),
                    .header(channel: 1, ContentHeader(bodySize: 5, properties: BasicProperties(deliveryMode: 2))),
                    .body(channel: 1, [0x68, 0x65, 0x6C, 0x6C, 0x6F]),
                    .method(channel: 1, deliver),
                    .header(channel: 1, ContentHeader(bodySize: 0, properties: BasicProperties())),
                ].encodedBytes()
            ))
        return seeds
    }

    /// A publish with `body` split into 16-byte body frames (frames written one by one: a
    /// frame_max that small could not carry the header frame, which the encoder refuses).
    private static func contentFrames(properties: BasicProperties, body: [UInt8]) throws -> [UInt8] {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeMethod(
            .basic(.publish(.init(exchange: "ex", routingKey: "rk"))), channel: 1, into: &buffer)
        try AMQPFrameEncoder.encode(
            .header(channel: 1, ContentHeader(bodySize: UInt64(body.count), properties: properties)), into: &buffer)
        for start in stride(from: 0, to: body.count, by: 16) {
            try AMQPFrameEncoder.encode(
                .body(channel: 1, body[start..<min(start + 16, body.count)]), into: &buffer)
        }
        return buffer.readableBytesArray
    }
}
