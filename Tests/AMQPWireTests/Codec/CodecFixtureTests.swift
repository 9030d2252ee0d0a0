import AMQPWire
import Testing

/// Hand-written bytes from the spec, so encoder and decoder cannot agree on a shared mistake.
@Suite struct CodecFixtureTests {
    @Test(arguments: CodecFixture.all)
    func fixtureDecodesToItsFrame(_ fixture: CodecFixture) throws {
        var buffer = WireBuffer(bytes: fixture.bytes)
        let frame = try AMQPFrameDecoder().decodeFrame(from: &buffer)
        #expect(frame == fixture.frame)
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: CodecFixture.all)
    func fixtureFrameEncodesToTheSameBytes(_ fixture: CodecFixture) throws {
        #expect(try fixture.frame.encodedBytes() == fixture.bytes)
    }

    @Test func fixturesDecodeWholeByteByByteAndConcatenated() throws {
        try FrameDecoderVerifier.verify(CodecFixture.all.map { ($0.bytes, [$0.frame]) })
    }

    @Test func protocolHeaderIsAMQPFollowedByZeroZeroNineOne() {
        #expect(AMQPFrame.protocolHeader == [0x41, 0x4D, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01])
    }

    @Test func heartbeatWriterMatchesTheFixture() {
        var buffer = WireBuffer()
        AMQPFrameEncoder.writeHeartbeat(into: &buffer)
        #expect(buffer.readableBytesArray == CodecFixture.heartbeat.bytes)
    }

    @Test func contentHeaderFlagWordNamesExactlyTheSetProperties() throws {
        let header = try #require(CodecFixture.contentHeader.frame.contentHeader)
        #expect(header.properties.flags == 0b1001_0100_0100_0100)
        #expect(CodecFixture.contentHeader.bytes[19...20] == [0x94, 0x44])
    }

    @Test func fieldTableWithEveryTypeDecodesWithRabbitMQTags() throws {
        var reader = ByteReader(FieldTableFixture.bytes)
        let table = try reader.readFieldTable()
        #expect(table == FieldTableFixture.table)
        #expect(reader.isAtEnd)
    }

    @Test func fieldTableWithEveryTypeEncodesToTheSameBytes() throws {
        var buffer = WireBuffer()
        try buffer.writeFieldTable(FieldTableFixture.table)
        #expect(buffer.readableBytesArray == FieldTableFixture.bytes)
    }

    @Test func fieldTableFixtureKeysAreTheTagsTheirValuesUse() {
        for entry in FieldTableFixture.table {
            #expect(entry.key.utf8.elementsEqual([entry.value.typeTag]), "\(entry.key)")
        }
        #expect(Set(FieldTableFixture.table.map(\.key)).count == 17)
    }
}

extension AMQPFrame {
    var contentHeader: ContentHeader? {
        if case .header(_, let header) = self { return header }
        return nil
    }
}
