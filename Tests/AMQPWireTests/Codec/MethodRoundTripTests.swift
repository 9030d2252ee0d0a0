import AMQPWire
import Testing

@Suite struct MethodRoundTripTests {
    @Test(arguments: MethodSamples.all)
    func methodFrameDecodesToTheMethodItWasEncodedFrom(_ method: AMQPMethod) throws {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encodeMethod(method, channel: 7, into: &buffer)
        let frame = try AMQPFrameDecoder().decodeFrame(from: &buffer)
        #expect(frame == .method(channel: 7, method))
        #expect(buffer.readableBytes == 0)
    }

    @Test(arguments: MethodSamples.all)
    func methodFrameDecodesWholeByteByByteAndConcatenated(_ method: AMQPMethod) throws {
        let frame = AMQPFrame.method(channel: 3, method)
        let other = AMQPFrame.method(channel: 0, .connection(.closeOk(.init())))
        try FrameDecoderVerifier.verify([
            (try frame.encodedBytes(), [frame]),
            (try [other, frame, other].encodedBytes(), [other, frame, other]),
        ])
    }

    @Test(arguments: MethodSamples.all)
    func methodPayloadStartsWithItsClassAndMethodID(_ method: AMQPMethod) throws {
        var buffer = WireBuffer()
        try method.encode(into: &buffer)
        #expect(buffer.getInteger(at: 0, as: UInt16.self) == method.id.classID)
        #expect(buffer.getInteger(at: 2, as: UInt16.self) == method.id.methodID)
        var reader = ByteReader(buffer.readableBytesArray)
        #expect(try AMQPMethod.decode(from: &reader) == method)
        #expect(reader.isAtEnd)
    }

    @Test func samplesCoverEveryMethodOfTheProtocolWithRabbitMQExtensions() {
        // 60 methods in the extended 0-9-1 spec plus connection.blocked, connection.unblocked,
        // connection.update-secret and connection.update-secret-ok.
        #expect(Set(MethodSamples.nonDefault.map(\.id)).count == 64)
        #expect(Set(MethodSamples.defaults.map(\.id)) == Set(MethodSamples.nonDefault.map(\.id)))
    }

    @Test func onlyPublishReturnDeliverAndGetOkCarryContent() {
        let carriers = Set(MethodSamples.nonDefault.filter(\.hasContent).map(\.id))
        #expect(carriers == [.basicPublish, .basicReturn, .basicDeliver, .basicGetOk])
    }

    @Test func packedBitsUseOneOctetLowBitFirst() throws {
        let declare = AMQPMethod.exchange(
            .declare(
                .init(
                    exchange: "", type: "", passive: true, durable: false, autoDelete: false, internal: true,
                    noWait: true)))
        var buffer = WireBuffer()
        try declare.encode(into: &buffer)
        // class, method, reserved-1, exchange "", type "", then one octet of five bits.
        #expect(buffer.readableBytesArray[8] == 0b1_1001)
        #expect(buffer.readableBytes == 9 + 4)
    }
}
