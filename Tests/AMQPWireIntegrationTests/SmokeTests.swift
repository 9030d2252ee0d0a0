import AMQPWire
import Testing

@Suite(.enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct SmokeTests {
    @Test func publishedMessageIsConsumed() async throws {
        let connection = try await Broker.connect()
        let channel = try await connection.openChannel()
        let queue = try await channel.declareQueue(exclusive: true).name
        try await channel.publish("hello", routingKey: queue, properties: .init(contentType: "text/plain"))
        let consumer = try await channel.consume(queue: queue)
        var iterator = consumer.makeAsyncIterator()
        let delivery = try #require(try await iterator.next())
        #expect(delivery.bodyString == "hello")
        #expect(delivery.properties.contentType == "text/plain")
        try delivery.ack()
        try await connection.close()
    }
}
