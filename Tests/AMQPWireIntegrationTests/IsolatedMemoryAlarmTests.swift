import AMQPWire
import ServiceTestSupport
import Testing

/// A broker-wide fault: a memory alarm blocks every publishing connection on the broker, so this
/// runs in scripts/test.sh's second pass, where suites named Isolated run alone.
@Suite(.serialized, .enabled(if: Broker.enabled, "AMQPWIRE_SKIP_INTEGRATION=1 is set"))
struct IsolatedMemoryAlarmTests {
    /// RabbitMQ blocks a connection when it publishes during a resource alarm: on reading the
    /// publish method it sends connection.blocked and stops reading that socket until the alarm
    /// clears. The client must hold back further publishes while deliveries keep arriving (here
    /// one dead-lettered in from a TTL queue, which no blocked connection publishes) and acks are
    /// queued, not refused.
    @Test func memoryAlarmBlocksPublishingOnlyUntilLifted() async throws {
        try await BrokerControl.ctl("set_vm_memory_high_watermark", "0.4")
        let connection = try await Broker.connect()
        let publisher = try await connection.openChannel()
        let consumerChannel = try await connection.openChannel()
        let queue = try await publisher.declareQueue(exclusive: true).name
        let delayed = try await publisher.declareQueue(
            exclusive: true,
            arguments: [
                "x-message-ttl": 1500, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": .string(queue),
            ]
        ).name
        try await publisher.enablePublisherConfirms()
        try await publisher.publish("delayed", routingKey: delayed).wait()
        let consumer = try await consumerChannel.consume(queue: queue)
        var deliveries = consumer.makeAsyncIterator()
        var events = connection.events().makeAsyncIterator()

        try await BrokerControl.ctl("set_vm_memory_high_watermark", "0.0000001")
        var lifted = false
        try await withCleanup {
            let trigger = try await publisher.publish("trigger", routingKey: queue)
            guard case .blocked(let reason)? = await events.next() else {
                Issue.record("expected a blocked event")
                return
            }
            #expect(reason.contains("memory") || reason.contains("low on"))
            #expect(connection.isBlocked)

            // Publishing now waits in the client.
            let pending = Task { try await publisher.publish("after", routingKey: queue) }
            // Deliveries go on while blocked, and acking does not wait or fail.
            let first = try #require(try await deliveries.next())
            #expect(first.bodyString == "delayed")
            #expect(connection.isBlocked)
            try first.ack()
            #expect(trigger.result == nil)

            try await BrokerControl.ctl("set_vm_memory_high_watermark", "0.4")
            lifted = true
            guard case .unblocked? = await events.next() else {
                Issue.record("expected an unblocked event")
                return
            }
            #expect(!connection.isBlocked)
            try await trigger.wait()
            try await pending.value.wait()
            var bodies: [String] = []
            for _ in 0..<2 {
                let delivery = try #require(try await deliveries.next())
                bodies.append(delivery.bodyString)
                try delivery.ack()
            }
            #expect(bodies == ["trigger", "after"])
            // The acks, the one queued while blocked included, reached the broker.
            try await consumer.cancel()
            try await consumerChannel.close()
            let check = try await connection.openChannel()
            let remaining = try await check.declareQueue(queue, passive: true)
            #expect(remaining.messageCount == 0)
            try await connection.close()
        } cleanup: {
            if !lifted { _ = try? await BrokerControl.ctl("set_vm_memory_high_watermark", "0.4") }
        }
    }
}
