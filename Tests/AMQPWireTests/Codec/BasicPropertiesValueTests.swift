import Testing

@testable import AMQPWire

/// BasicProperties keeps its fields behind a shared reference: it must still behave as a value.
@Suite struct BasicPropertiesValueTests {
    @Test func aCopyChangedLaterLeavesTheOriginalAlone() {
        let original = BasicProperties(contentType: "text/plain", messageID: "a")
        var copy = original
        copy.messageID = "b"
        copy.headers = ["k": .int32(1)]
        #expect(original.messageID == "a" && original.headers == nil)
        #expect(copy.messageID == "b" && copy.contentType == "text/plain")
        var empty = BasicProperties()
        let emptyCopy = empty
        empty.type = "t"
        #expect(emptyCopy.type == nil && emptyCopy.flags == 0)
    }

    @Test func equalityAndHashingFollowTheValuesNotTheStorage() {
        var cleared = BasicProperties(appID: "x")
        cleared.appID = nil
        #expect(cleared == BasicProperties())
        #expect(cleared.hashValue == BasicProperties().hashValue)
        #expect(cleared.flags == 0)
        let a = BasicProperties(deliveryMode: 2, messageID: "m")
        let b = BasicProperties(deliveryMode: 2, messageID: "m")
        #expect(a == b && a.hashValue == b.hashValue)
        #expect(a != BasicProperties(deliveryMode: 1, messageID: "m"))
        #expect(Set([a, b, BasicProperties()]).count == 2)
    }

    @Test func decodingNoFlagsGivesEmptyProperties() throws {
        var buffer = WireBuffer()
        try BasicProperties().encode(into: &buffer)
        #expect(buffer.readableBytesArray == [0, 0])
        var reader = ByteReader(buffer.readableBytesArray)
        #expect(try BasicProperties(from: &reader) == BasicProperties())
    }
}
