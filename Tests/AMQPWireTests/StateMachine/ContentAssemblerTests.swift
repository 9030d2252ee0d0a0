import Testing

@testable import AMQPWire

@Suite struct ContentAssemblerTests {
    static let deliver = ContentAssembler.ContentMethod.deliver(
        .init(consumerTag: "ctag", deliveryTag: 7, redelivered: false, exchange: "ex", routingKey: "rk"))
    static let properties = BasicProperties(contentType: "text/plain", messageID: "m-1")

    @Test func emptyBodyCompletesAtTheHeader() throws {
        var assembler = ContentAssembler(maxMessageSize: 100)
        try assembler.start(Self.deliver)
        #expect(!assembler.isIdle)
        let outcome = try assembler.header(messageHeader(bodySize: 0, properties: Self.properties))
        #expect(outcome == .complete(.init(method: Self.deliver, properties: Self.properties, body: [])))
        #expect(assembler.isIdle)
    }

    @Test func singleBodyFrameCompletesTheMessage() throws {
        var assembler = ContentAssembler(maxMessageSize: 100)
        try assembler.start(Self.deliver)
        #expect(try assembler.header(messageHeader(bodySize: 3, properties: Self.properties)) == .incomplete)
        let outcome = try assembler.body([1, 2, 3])
        #expect(outcome == .complete(.init(method: Self.deliver, properties: Self.properties, body: [1, 2, 3])))
        #expect(assembler.isIdle)
    }

    @Test(arguments: [1, 2, 7, 100])
    func bodySplitOverSeveralFramesIsJoinedInOrder(chunk: Int) throws {
        let body = (0..<250).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        var assembler = ContentAssembler(maxMessageSize: 1000)
        try assembler.start(Self.deliver)
        #expect(try assembler.header(messageHeader(bodySize: UInt64(body.count))) == .incomplete)
        var outcomes: [ContentAssembler.Outcome] = []
        var offset = 0
        while offset < body.count {
            let end = min(offset + chunk, body.count)
            outcomes.append(try assembler.body(body[offset..<end]))
            offset = end
        }
        #expect(outcomes.dropLast().allSatisfy { $0 == .incomplete })
        #expect(outcomes.last == .complete(.init(method: Self.deliver, properties: BasicProperties(), body: body)))
        #expect(assembler.isIdle)
    }

    @Test func bodyLongerThanDeclaredThrows() throws {
        var assembler = ContentAssembler(maxMessageSize: 100)
        try assembler.start(Self.deliver)
        _ = try assembler.header(messageHeader(bodySize: 4))
        #expect(try assembler.body([1, 2]) == .incomplete)
        let error = #expect(throws: AMQPCodecError.self) { try assembler.body([3, 4, 5]) }
        #expect(error?.code == .invalidValue)
        #expect(error?.message.contains("5 bytes") == true)
        #expect(error?.message.contains("4") == true)
    }

    @Test func singleBodyFrameLongerThanDeclaredThrows() throws {
        var assembler = ContentAssembler(maxMessageSize: 100)
        try assembler.start(Self.deliver)
        _ = try assembler.header(messageHeader(bodySize: 2))
        #expect(throws: AMQPCodecError.self) { try assembler.body([1, 2, 3]) }
    }

    @Test func headerOverTheLimitIsTooLargeAndStoresNothing() throws {
        var assembler = ContentAssembler(maxMessageSize: 10)
        try assembler.start(Self.deliver)
        #expect(try assembler.header(messageHeader(bodySize: 11)) == .tooLarge(Self.deliver, bodySize: 11))
        #expect(assembler.isIdle)
        // Nothing is awaiting a body: a body frame now is out of place.
        #expect(throws: AMQPCodecError.self) { try assembler.body([0]) }
    }

    @Test func headerAtTheLimitIsAccepted() throws {
        var assembler = ContentAssembler(maxMessageSize: 10)
        try assembler.start(Self.deliver)
        #expect(try assembler.header(messageHeader(bodySize: 10)) == .incomplete)
        #expect(try assembler.body(Array(repeating: 1, count: 10)[...]) != .incomplete)
    }

    @Test func hugeDeclaredSizeIsTooLargeWithoutAllocating() throws {
        var assembler = ContentAssembler(maxMessageSize: 64 << 20)
        try assembler.start(Self.deliver)
        #expect(try assembler.header(messageHeader(bodySize: .max)) == .tooLarge(Self.deliver, bodySize: .max))
    }

    @Test func bodyWithoutHeaderThrows() throws {
        var idle = ContentAssembler(maxMessageSize: 100)
        #expect(throws: AMQPCodecError.self) { try idle.body([1]) }

        var awaitingHeader = ContentAssembler(maxMessageSize: 100)
        try awaitingHeader.start(Self.deliver)
        #expect(throws: AMQPCodecError.self) { try awaitingHeader.body([1]) }
    }

    @Test func headerWithoutMethodThrows() {
        var assembler = ContentAssembler(maxMessageSize: 100)
        #expect(throws: AMQPCodecError.self) { try assembler.header(messageHeader(bodySize: 0)) }
    }

    @Test func newMethodBeforeThePreviousContentEndsThrows() throws {
        var assembler = ContentAssembler(maxMessageSize: 100)
        try assembler.start(Self.deliver)
        #expect(throws: AMQPCodecError.self) { try assembler.start(Self.deliver) }
        _ = try assembler.header(messageHeader(bodySize: 2))
        _ = try assembler.body([1])
        #expect(throws: AMQPCodecError.self) { try assembler.start(Self.deliver) }
    }

    @Test func assemblesMessagesBackToBack() throws {
        let returned = ContentAssembler.ContentMethod.return(
            .init(replyCode: 312, replyText: "NO_ROUTE", exchange: "x"))
        var assembler = ContentAssembler(maxMessageSize: 100)
        try assembler.start(Self.deliver)
        _ = try assembler.header(messageHeader(bodySize: 1))
        #expect(try assembler.body([9]) == .complete(.init(method: Self.deliver, properties: .init(), body: [9])))
        try assembler.start(returned)
        #expect(
            try assembler.header(messageHeader(bodySize: 0))
                == .complete(.init(method: returned, properties: .init(), body: [])))
    }
}
