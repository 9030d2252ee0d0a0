import Testing

@testable import AMQPWire

/// Delivery tags are offset by those of a channel's earlier connections. The broker's tag comes
/// from the network: `tag + offset` once overflowed (a crash) for a tag near `UInt64.max` after a
/// recovery.
@Suite struct DeliveryTagsTests {
    @Test func tagsAreOffsetByEarlierConnections() {
        #expect(DeliveryTags.application(1, offset: 0) == 1)
        #expect(DeliveryTags.application(5, offset: 100) == 105)
    }

    @Test(arguments: [UInt64.max, UInt64.max - 1, UInt64.max - 99])
    func aTagNearTheTopSaturatesInsteadOfOverflowing(tag: UInt64) {
        #expect(DeliveryTags.application(tag, offset: 100) == .max)
        #expect(DeliveryTags.application(tag, offset: 0) == tag)
    }
}
