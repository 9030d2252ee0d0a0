import Testing

@testable import Messaging

/// The settings MessagingService, NamekoRPCServer and NamekoEventSubscriber check at start.
@Suite struct ConsumerSettingsTests {
    @Test(arguments: [0, -1, 65536])
    func aConcurrencyThatIsNoPrefetchIsRefused(concurrency: Int) {
        let error = #expect(throws: MessagingError.self) {
            try ConsumeLoops.check(service: "svc", concurrency: concurrency)
        }
        #expect(error?.code == .invalidConfiguration)
        #expect(error?.message.contains("1 to 65535, not \(concurrency)") == true)
    }

    @Test func anEmptyServiceNameIsRefused() {
        let error = #expect(throws: MessagingError.self) { try ConsumeLoops.check(service: "", concurrency: 1) }
        #expect(error?.code == .invalidConfiguration)
    }

    @Test func theLimitsThemselvesAreAccepted() throws {
        try ConsumeLoops.check(service: "svc", concurrency: 1)
        try ConsumeLoops.check(service: "svc", concurrency: 65535)
    }
}
