import AMQPWire
import Foundation
import Testing

@testable import Messaging

/// The one retry and error-queue convention: where a failed message goes and what it carries.
@Suite struct FailureRouteTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    static func route(
        headers: FieldTable? = nil, permanent: Bool = false, attempts: Int = 1, delays: [Int] = [1000, 5000],
        errorQueue: String? = "orders.error", errorMessage: String = "boom"
    ) -> FailureRoute? {
        var properties = BasicProperties(expiration: "60000", messageID: "m-1")
        properties.headers = headers
        return FailureRoute(
            properties: properties, exchange: "shop", routingKey: "order.placed", queue: "orders",
            errorType: "Shop.Error", errorMessage: errorMessage, permanent: permanent, attempts: attempts,
            delays: delays, errorQueue: errorQueue, now: now)
    }

    @Test func firstFailureGoesToTheFirstDelayQueueWithTheFailureStamped() throws {
        let route = try #require(Self.route())
        #expect(route.outcome == .delayed)
        #expect(route.target == "orders.delay.1000")
        #expect(route.properties.expiration == "1000")
        #expect(route.properties.messageID == "m-1")
        let headers = try #require(route.properties.headers)
        #expect(headers[FailureHeaders.delayedAttempts] == .int64(1))
        #expect(headers[FailureHeaders.attempts] == .int64(1))
        #expect(headers[FailureHeaders.errorType] == .string("Shop.Error"))
        #expect(headers[FailureHeaders.errorMessage] == .string("boom"))
        #expect(headers[FailureHeaders.firstFailedAt] == .string("2027-01-15T08:00:00.000Z"))
        #expect(headers[FailureHeaders.originalQueue] == .string("orders"))
        #expect(headers[FailureHeaders.originalExchange] == .string("shop"))
        #expect(headers[FailureHeaders.originalRoutingKey] == .string("order.placed"))
        #expect(headers[FailureHeaders.failedAt] == nil)
    }

    @Test func laterFailuresTakeTheNextDelayAndKeepTheFirstFailuresHeaders() throws {
        let earlier: FieldTable = [
            FailureHeaders.delayedAttempts: .int64(1), FailureHeaders.firstFailedAt: .string("then"),
            FailureHeaders.originalQueue: .string("orders"), FailureHeaders.originalExchange: .string("first"),
            FailureHeaders.originalRoutingKey: .string("first.key"),
        ]
        let route = try #require(Self.route(headers: earlier, attempts: 4))
        #expect(route.target == "orders.delay.5000" && route.properties.expiration == "5000")
        let headers = try #require(route.properties.headers)
        #expect(headers[FailureHeaders.delayedAttempts] == .int64(2))
        #expect(headers[FailureHeaders.attempts] == .int64(4))
        #expect(headers[FailureHeaders.firstFailedAt] == .string("then"))
        #expect(headers[FailureHeaders.originalExchange] == .string("first"))
        #expect(headers[FailureHeaders.originalRoutingKey] == .string("first.key"))
    }

    @Test func delaysUsedUpParkTheMessageInTheErrorQueueWithoutAnExpiration() throws {
        let route = try #require(Self.route(headers: [FailureHeaders.delayedAttempts: .int64(2)]))
        #expect(route.outcome == .failed)
        #expect(route.target == "orders.error")
        #expect(route.properties.expiration == nil)
        #expect(route.properties.headers?[FailureHeaders.failedAt] == .string("2027-01-15T08:00:00.000Z"))
        #expect(route.properties.headers?[FailureHeaders.delayedAttempts] == .int64(2))
    }

    @Test func permanentFailuresSkipTheDelays() throws {
        let route = try #require(Self.route(permanent: true))
        #expect(route.outcome == .failed && route.target == "orders.error")
    }

    @Test func withNoDelayLeftAndNoErrorQueueThereIsNowhereToGo() {
        #expect(Self.route(delays: [], errorQueue: nil) == nil)
        #expect(Self.route(permanent: true, errorQueue: nil) == nil)
        #expect(Self.route(errorQueue: nil)?.outcome == .delayed)
    }

    /// The header comes from the network: a negative count once indexed the delays with it (a
    /// crash). Negative counts as none so far; a huge one means the delays are used up.
    @Test(arguments: [(Int64(-1), "orders.delay.1000"), (Int64.min, "orders.delay.1000"), (Int64.max, "orders.error")])
    func anImpossibleDelayedAttemptsHeaderIsReadAsACount(count: Int64, target: String) throws {
        let route = try #require(Self.route(headers: [FailureHeaders.delayedAttempts: .int64(count)]))
        #expect(route.target == target)
    }

    @Test func countHeadersAreClampedAndNeverOverflow() {
        #expect(FailureHeaders.count(nil) == 0)
        #expect(FailureHeaders.count(.string("3")) == 0)
        #expect(FailureHeaders.count(.int8(-3)) == 0)
        #expect(FailureHeaders.count(.uint32(7)) == 7)
        #expect(FailureHeaders.count(.int64(.max)) == FailureHeaders.maximumCount)
        #expect(FailureHeaders.count(.int64(.max)) + 1 > FailureHeaders.maximumCount)
    }

    @Test func longErrorMessagesAreCut() throws {
        let route = try #require(Self.route(errorMessage: String(repeating: "x", count: 5000)))
        #expect(route.properties.headers?[FailureHeaders.errorMessage] == .string(String(repeating: "x", count: 2000)))
    }
}
