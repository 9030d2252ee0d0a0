import AMQPWire
import Foundation
import Testing

/// Runs the README's AMQPWire tour against the broker. The function bodies below are the README's
/// code blocks verbatim; `everyReadmeBlockIsHere` fails when the two drift apart.
@Suite(.serialized, .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct ReadmeTourTests {
    @Test func theTourRuns() async throws {
        let brokerURL = Broker.url
        try await cleanUp(brokerURL)

        let connection = try await AMQPConnection.connect(url: brokerURL)
        let channel = try await connection.openChannel()
        try await channel.declareExchange("tour.events", type: .topic, durable: true)
        let queue = try await channel.declareQueue("tour.recipes", durable: true).name
        try await channel.bindQueue(queue, to: "tour.events", routingKey: "recipe.*")

        try await channel.enablePublisherConfirms(window: 1000)
        let properties = BasicProperties(contentType: "application/json", deliveryMode: 2, messageID: "r-1")
        let confirmation = try await channel.publish(
            #"{"name":"pancakes"}"#, exchange: "tour.events", routingKey: "recipe.created",
            mandatory: true, properties: properties)
        try await confirmation.wait()

        try await channel.setPrefetch(count: 100)
        let consumer = try await channel.consume(queue: queue)
        for try await delivery in consumer {
            print(delivery.routingKey, delivery.bodyString)
            try delivery.ack()
            try await consumer.cancel()  // the sequence ends after what is buffered
        }

        do {
            try await channel.declareQueue("tour.missing", passive: true)
        } catch let error as AMQPError where error.replyCode == .notFound {
            print(error.code, error.replyText ?? "")  // channelClosedByBroker NOT_FOUND - no queue ...
        }
        let fresh = try await connection.openChannel()

        #expect(!channel.isOpen && fresh.isOpen)
        try await fresh.deleteQueue("tour.recipes")
        try await fresh.deleteExchange("tour.events")

        let watcher = Task {
            for await event in connection.events() {
                if case .blocked(let reason) = event { print("publishing paused:", reason) }
            }
        }
        try await fresh.close()
        try await connection.close()
        await watcher.value  // the events end when the connection closes
    }

    @Test func everyReadmeBlockIsHere() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: URL(fileURLWithPath: #filePath), encoding: .utf8)
        // The Messaging example runs in the Messaging tests.
        let messaging = try String(
            contentsOf: root.appendingPathComponent("Tests/MessagingIntegrationTests/ReadmeMessagingTests.swift"),
            encoding: .utf8)
        let normalizedSource = Self.normalize(source) + "\n" + Self.normalize(messaging)
        let blocks = readme.components(separatedBy: "```swift\n").dropFirst().map {
            String($0.prefix { _ in true }.components(separatedBy: "```")[0])
        }
        #expect(blocks.count == 7)
        for block in blocks {
            #expect(normalizedSource.contains(Self.normalize(block)), "README block not in ReadmeTourTests:\n\(block)")
        }
    }

    private static func normalize(_ text: String) -> String {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .joined(separator: "\n")
    }

    private func cleanUp(_ url: String) async throws {
        let connection = try await AMQPConnection.connect(url: url)
        let channel = try await connection.openChannel()
        try await channel.deleteQueue("tour.recipes")
        try await channel.deleteExchange("tour.events")
        try await connection.close()
    }
}
