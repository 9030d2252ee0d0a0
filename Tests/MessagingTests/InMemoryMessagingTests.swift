import Foundation
import Messaging
import Synchronization
import Testing

struct Order: Command, Equatable {
    static let messageType = "shop.order.v1"
    static let destination = "shop"
    var item: String
}

struct Ordered: Event, Equatable {
    static let messageType = "shop.ordered.v1"
    static let source = "shop"
    var item: String
}

struct Price: RemoteProcedure {
    typealias Reply = Int
    static let messageType = "shop.price.v1"
    static let destination = "shop"
    var item: String
}

/// A service's handlers, registered through the protocol so tests run them without a broker.
struct Shop {
    var bus: any MessageSender
    func register(on registry: some HandlerRegistry) {
        registry.handle(Order.self) { order, context in
            guard order.item != "nothing" else { throw Rejected("cannot order nothing") }
            try await bus.publish(Ordered(item: order.item), metadata: context.follow(Ordered.messageType))
        }
        registry.respond(to: Price.self) { request, _ in
            guard request.item != "unicorn" else { throw Rejected("no price for unicorns") }
            return request.item.count * 100
        }
    }
}

@Suite struct InMemoryMessagingTests {
    @Test func aHandledCommandPublishesItsEventWithCausation() async throws {
        let messaging = InMemoryMessaging()
        Shop(bus: messaging).register(on: messaging)
        let metadata = MessageMetadata(messageType: Order.messageType)
        try await messaging.send(Order(item: "book"), metadata: metadata)
        #expect(try await messaging.handled(Order.self) == [Order(item: "book")])
        #expect(try await messaging.published(Ordered.self) == [Ordered(item: "book")])
    }

    @Test func rpcRepliesAndRemoteErrors() async throws {
        let messaging = InMemoryMessaging()
        Shop(bus: messaging).register(on: messaging)
        #expect(try await messaging.call(Price(item: "pen")) == 300)
        let error = try await #require(throws: MessagingError.self) { try await messaging.call(Price(item: "unicorn")) }
        #expect(error.code == .remote)
        #expect(error.message == "no price for unicorns")
    }

    @Test func nobodyHandlingIsUnroutable() async throws {
        let messaging = InMemoryMessaging()
        let error = try await #require(throws: MessagingError.self) { try await messaging.send(Order(item: "x")) }
        #expect(error.code == .unroutable)
    }

    @Test func failuresFollowTheRetryPolicyThenDeadLetter() async throws {
        let messaging = InMemoryMessaging(retry: RetryPolicy(immediateRetries: 1, delays: [.seconds(1)]))
        let attempts = Mutex(0)
        messaging.handle(Order.self) { _, _ in
            attempts.withLock { $0 += 1 }
            throw CancellationError()
        }
        try await messaging.send(Order(item: "flaky"))
        let dead = try await messaging.deadLettered()
        #expect(dead.first?.attempts == 4)
        #expect(attempts.withLock { $0 } == 4)
    }

    @Test func aPermanentFailureDeadLettersAtOnce() async throws {
        let messaging = InMemoryMessaging()
        Shop(bus: messaging).register(on: messaging)
        try await messaging.send(Order(item: "nothing"))
        let dead = try await messaging.deadLettered()
        #expect(dead.first?.attempts == 1)
        #expect(dead.first?.errorMessage == "cannot order nothing")
        try await messaging.idle()
    }

    @Test func waitingForWhatNeverHappensTimesOut() async throws {
        let messaging = InMemoryMessaging()
        let error = try await #require(throws: MessagingError.self) {
            _ = try await messaging.handled(Order.self, timeout: .milliseconds(50))
        }
        #expect(error.code == .timeout)
    }
}
