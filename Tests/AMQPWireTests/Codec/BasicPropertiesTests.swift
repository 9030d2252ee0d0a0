import AMQPWire
import Testing

@Suite struct BasicPropertiesTests {
    struct PropertyCase: Sendable, CustomStringConvertible {
        var description: String
        var properties: BasicProperties
        /// The flag bit the spec gives the property: content-type is 15, cluster-id (reserved) 2.
        var bit: Int
    }

    static let eachProperty: [PropertyCase] = [
        PropertyCase(description: "content-type", properties: BasicProperties(contentType: "t"), bit: 15),
        PropertyCase(description: "content-encoding", properties: BasicProperties(contentEncoding: "e"), bit: 14),
        PropertyCase(description: "headers", properties: BasicProperties(headers: [:]), bit: 13),
        PropertyCase(description: "delivery-mode", properties: BasicProperties(deliveryMode: 2), bit: 12),
        PropertyCase(description: "priority", properties: BasicProperties(priority: 0), bit: 11),
        PropertyCase(description: "correlation-id", properties: BasicProperties(correlationID: ""), bit: 10),
        PropertyCase(description: "reply-to", properties: BasicProperties(replyTo: "r"), bit: 9),
        PropertyCase(description: "expiration", properties: BasicProperties(expiration: "60000"), bit: 8),
        PropertyCase(description: "message-id", properties: BasicProperties(messageID: "m"), bit: 7),
        PropertyCase(
            description: "timestamp", properties: BasicProperties(timestamp: AMQPTimestamp(secondsSince1970: 0)), bit: 6
        ),
        PropertyCase(description: "type", properties: BasicProperties(type: "t"), bit: 5),
        PropertyCase(description: "user-id", properties: BasicProperties(userID: "guest"), bit: 4),
        PropertyCase(description: "app-id", properties: BasicProperties(appID: "a"), bit: 3),
        PropertyCase(description: "cluster-id", properties: BasicProperties(clusterID: "c"), bit: 2),
    ]

    static func headerFrame(_ properties: BasicProperties, bodySize: UInt64 = 0) -> AMQPFrame {
        .header(channel: 1, ContentHeader(bodySize: bodySize, properties: properties))
    }

    static func decode(_ bytes: [UInt8]) throws -> AMQPFrame? {
        var buffer = WireBuffer(bytes: bytes)
        return try AMQPFrameDecoder().decodeFrame(from: &buffer)
    }

    @Test(arguments: eachProperty)
    func eachPropertyAloneSetsOnlyItsFlagBitAndRoundTrips(_ property: PropertyCase) throws {
        #expect(property.properties.flags == 1 << property.bit)
        let frame = Self.headerFrame(property.properties)
        let bytes = try frame.encodedBytes()
        #expect(bytes[19...20] == [UInt8((1 << property.bit) >> 8), UInt8((1 << property.bit) & 0xFF)])
        #expect(try Self.decode(bytes) == frame)
    }

    @Test func everyPropertySetRoundTripsThroughAHeaderFrame() throws {
        #expect(MethodSamples.properties.flags == 0xFFFC)
        let frame = Self.headerFrame(MethodSamples.properties, bodySize: .max)
        try FrameDecoderVerifier.verify([(try frame.encodedBytes(), [frame])])
    }

    @Test func noPropertiesAreAZeroFlagWordAlone() throws {
        var buffer = WireBuffer()
        try BasicProperties().encode(into: &buffer)
        #expect(buffer.readableBytesArray == [0x00, 0x00])
    }

    @Test func presentPropertiesFollowTheFlagWordInFlagOrder() throws {
        var buffer = WireBuffer()
        try BasicProperties(priority: 9, appID: "b", clusterID: nil).encode(into: &buffer)
        var reordered = WireBuffer()
        try BasicProperties(contentType: "a", priority: 9, appID: "b").encode(into: &reordered)
        #expect(buffer.readableBytesArray == [0x08, 0x08, 0x09, 0x01, 0x62])
        #expect(reordered.readableBytesArray == [0x88, 0x08, 0x01, 0x61, 0x09, 0x01, 0x62])
    }

    @Test(arguments: [0x0001, 0x0002, 0x8003] as [UInt16])
    func flagBitsNoPropertyOwnsAreRejected(_ flags: UInt16) {
        // Bit 0 is the continuation flag; basic has 14 properties, so it and bit 1 must be clear.
        let bytes: [UInt8] = [
            0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0F,
            0x00, 0x3C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            UInt8(flags >> 8), UInt8(flags & 0xFF), 0x00,
            0xCE,
        ]
        #expect { try Self.decode(bytes) } throws: { ($0 as? AMQPCodecError)?.code == .invalidValue }
    }

    @Test func contentHeaderForAClassOtherThanBasicIsRejected() {
        let bytes: [UInt8] = [
            0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0E,
            0x00, 0x32, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05,  // class 50 (queue)
            0x00, 0x00,
            0xCE,
        ]
        #expect { try Self.decode(bytes) } throws: { ($0 as? AMQPCodecError)?.code == .invalidValue }
    }

    @Test func flaggedPropertyMissingFromThePayloadIsTruncated() {
        let bytes: [UInt8] = [
            0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0F,
            0x00, 0x3C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x00, 0x40,  // timestamp flagged: 8 bytes should follow
            0x00,
            0xCE,
        ]
        #expect { try Self.decode(bytes) } throws: { ($0 as? AMQPCodecError)?.code == .truncated }
    }

    @Test func propertyOf256BytesIsRejectedAndLeavesTheBufferUnchanged() throws {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encode(
            Self.headerFrame(BasicProperties(messageID: String(repeating: "m", count: 255))), into: &buffer)
        let before = buffer
        let tooLong = Self.headerFrame(
            BasicProperties(contentType: "ok", messageID: String(repeating: "m", count: 256)))
        #expect { try AMQPFrameEncoder.encode(tooLong, into: &buffer) } throws: {
            ($0 as? AMQPCodecError)?.code == .shortStringTooLong
        }
        #expect(buffer == before)
    }
}
