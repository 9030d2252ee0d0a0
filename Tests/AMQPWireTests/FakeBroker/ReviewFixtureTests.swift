import Synchronization
import Testing

@testable import AMQPWire

#if canImport(Glibc)
    import Glibc
#endif

/// Fixtures for defects a review found, each once a hang, a crash or a stuck message.
@Suite(.timeLimit(.minutes(1)))
struct ReviewFixtureTests {
    private func deliveries(_ tags: ClosedRange<UInt64>, consumerTag: String = "ctag-1") throws -> [UInt8] {
        var buffer = WireBuffer()
        for tag in tags {
            try AMQPFrameEncoder.encodeContent(
                .basic(.deliver(.init(consumerTag: consumerTag, deliveryTag: tag, exchange: "", routingKey: "q"))),
                channel: 1, properties: .init(), body: [UInt8(truncatingIfNeeded: tag)], frameMax: 131_072,
                into: &buffer)
        }
        return buffer.readableBytesArray
    }

    private func noAckConsumer(_ channel: AMQPChannel, _ broker: FakeBroker, capacity: Int) async throws
        -> AMQPConsumer
    {
        let consuming = Task { try await channel.consume(queue: "q", noAck: true, bufferCapacity: capacity) }
        _ = try await broker.expectMethod(channel: 1)  // basic.consume: no prefetch for noAck
        try await broker.send(method: .basic(.consumeOk(.init(consumerTag: "ctag-1"))), channel: 1)
        return try await within("consume()") { try await consuming.value }
    }

    /// A full manual-ack buffer used to stop the whole connection reading: cancel-ok and other
    /// channels' replies were never read. Now the buffer is bounded by the prefetch instead.
    @Test func fullManualAckConsumerDoesNotStallTheConnection() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consuming = Task { try await channel.consume(queue: "q", bufferCapacity: 4) }
            try await broker.acceptConsume(channel: 1, prefetch: 4)
            let consumer = try await within("consume()") { try await consuming.value }
            // More than the capacity (a broker that ignores the prefetch, or a prefetch raised later).
            try await broker.sendRaw(try deliveries(1...8))
            try await eventually("8 buffered") { consumer.bufferedCount == 8 }
            let opening = Task { try await connection.openChannel() }
            try await broker.openChannel(2)
            _ = try await within("openChannel() beside a full consumer") { try await opening.value }
            let cancelling = Task { try await consumer.cancel() }
            #expect(try await broker.expectMethod(channel: 1) == .basic(.cancel(.init(consumerTag: "ctag-1"))))
            try await broker.send(method: .basic(.cancelOk(.init(consumerTag: "ctag-1"))), channel: 1)
            try await within("cancel() of a full consumer") { try await cancelling.value }
        }
    }

    /// A noAck consumer still pauses reads when full, but one that ended (here: the broker
    /// cancelled it) must not keep them paused while its leftovers sit unread.
    @Test func endedFullBufferLetsReadsGoOn() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await noAckConsumer(channel, broker, capacity: 4)
            var bytes = try deliveries(1...4)
            var cancel = WireBuffer()
            try AMQPFrameEncoder.encodeMethod(
                .basic(.cancel(.init(consumerTag: "ctag-1", noWait: true))), channel: 1, into: &cancel)
            bytes += cancel.readableBytesArray
            try await broker.sendRaw(bytes)
            try await eventually("4 buffered") { consumer.bufferedCount == 4 }
            let declaring = Task { try await channel.declareQueue("x") }
            _ = try await broker.expectMethod(channel: 1)
            try await broker.send(method: .queue(.declareOk(.init(queue: "x"))), channel: 1)
            _ = try await within("declareQueue() after the full consumer ended") { try await declaring.value }
        }
    }

    /// With reads paused, a hang-up made poll() return at once, forever: a spin, and the dead
    /// connection was never noticed.
    @Test func hangUpWhileReadsArePausedEndsTheConnection() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await noAckConsumer(channel, broker, capacity: 2)
            try await broker.sendRaw(try deliveries(1...2))
            try await eventually("2 buffered") { consumer.bufferedCount == 2 }
            broker.close()
            try await eventually("the connection ends") { !connection.isOpen }
            #expect(connection.closeReason?.code == .ioError)
        }
    }

    /// The broker said why (connection.close) and then dropped the socket, while reads were
    /// paused: the hang-up was reported as an I/O error and the reason was never read. CI saw
    /// this as `rabbitmqctl stop_app` ending a busy connection with ioError, not 320.
    @Test func brokerCloseBeforeAHangUpIsReadEvenWithReadsPaused() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consumer = try await noAckConsumer(channel, broker, capacity: 2)
            try await broker.sendRaw(try deliveries(1...2))
            try await eventually("2 buffered") { consumer.bufferedCount == 2 }
            let text = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
            try await broker.send(method: .connection(.close(.init(replyCode: 320, replyText: text))), thenClose: ())
            try await eventually("the connection ends") { !connection.isOpen }
            #expect(connection.closeReason?.code == .connectionClosedByBroker)
            #expect(connection.closeReason?.replyCode == .connectionForced)
            #expect(connection.closeReason?.replyText == text)
        }
    }

    /// connect() from a task already cancelled never returned.
    @Test func connectFromACancelledTaskFailsAtOnce() async throws {
        let task = Task { () async throws -> AMQPConnection in
            withUnsafeCurrentTask { $0?.cancel() }
            return try await AMQPConnection.connect(.fakeBroker, socket: nil)
        }
        let error = try await amqpError("connect() in a cancelled task") { try await task.value }
        #expect(error.code == .cancelled)
    }

    /// The get-ok for a get whose caller stopped waiting was dropped without a reject: the
    /// message stayed unacknowledged, invisible to every other consumer.
    @Test func getOkForACancelledGetIsRequeued() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let getting = Task { try await channel.get(queue: "q") }
            _ = try await broker.expectMethod(channel: 1)
            getting.cancel()
            _ = await getting.result
            try await broker.sendContent(
                .basic(.getOk(.init(deliveryTag: 7, exchange: "", routingKey: "q", messageCount: 0))), channel: 1,
                body: [1, 2, 3])
            #expect(try await broker.expectMethod(channel: 1) == .basic(.reject(.init(deliveryTag: 7, requeue: true))))
        }
    }

    /// An abort while a write was stuck (the broker not reading) failed the waiters but left the
    /// socket and its thread alive.
    @Test func abortWhileAWriteIsStuckClosesTheSocket() async throws {
        let broker = try FakeBroker()
        defer { broker.close() }
        let client = broker.startClient()
        try await broker.handshake()
        let connection = try await within("connect()") { try await client.value }
        let channel = try await broker.openChannel(1, on: connection)
        try await channel.publish([UInt8](repeating: 7, count: 8 << 20), routingKey: "q")  // more than the socket holds
        try await Task.sleep(for: .milliseconds(200))
        connection.core.abort(AMQPError(.connectionClosed, "test abort"))
        let fd = broker.clientFD
        try await eventually("the client's socket is closed", timeout: .seconds(5)) { fcntl(fd, F_GETFD) == -1 }
    }

    /// A cancelled close() lost its time limit and waited for a close-ok that never came.
    @Test func cancellingCloseDropsTheConnection() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let closing = Task { try await connection.close() }
            _ = try await broker.expectMethod(channel: 0)  // connection.close, never answered
            closing.cancel()
            _ = try await within("close() after cancel", timeout: .seconds(3)) { await closing.result }
            #expect(!connection.isOpen)
        }
    }

    /// Cancelling a task waiting on a confirmation left it waiting.
    @Test func cancellingAConfirmationWaitThrowsCancelled() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let enabling = Task { try await channel.enablePublisherConfirms() }
            _ = try await broker.expectMethod(channel: 1)
            try await broker.send(method: .confirm(.selectOk(.init())), channel: 1)
            try await within("confirm.select") { try await enabling.value }
            let confirmation = try await channel.publish("x", routingKey: "q")
            let waiting = Task { try await confirmation.wait() }
            try await Task.sleep(for: .milliseconds(50))
            waiting.cancel()
            let error = try await amqpError("wait() after cancel") { try await waiting.value }
            #expect(error.code == .cancelled)
        }
    }

    /// consumer.cancel() from a task cancelled before cancel-ok left the consumer registered and
    /// its loop waiting forever.
    @Test func consumerEndsOnCancelOkEvenIfTheCancellingTaskWasCancelled() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consuming = Task { try await channel.consume(queue: "q") }
            try await broker.acceptConsume(channel: 1)
            let consumer = try await within("consume()") { try await consuming.value }
            let iterating = Task { () async throws -> Int in
                var count = 0
                for try await _ in consumer { count += 1 }
                return count
            }
            let cancelling = Task { try await consumer.cancel() }
            _ = try await broker.expectMethod(channel: 1)
            cancelling.cancel()
            _ = await cancelling.result
            try await broker.send(method: .basic(.cancelOk(.init(consumerTag: "ctag-1"))), channel: 1)
            #expect(try await within("the consumer loop") { try await iterating.value } == 0)
        }
    }

    @Test func openChannelOnADeadConnectionSaysWhyItDied() async throws {
        try await FakeBroker.withConnection { broker, connection in
            try await broker.send(
                method: .connection(.close(.init(replyCode: 320, replyText: "CONNECTION_FORCED - test"))))
            _ = try await broker.expectMethod()  // close-ok
            try await eventually("closed") { !connection.isOpen }
            let error = try await amqpError("openChannel()") { try await connection.openChannel() }
            #expect(error.replyCode == .connectionForced)
        }
    }

    private static func next(_ consumer: AMQPConsumer) async throws -> AMQPDelivery? {
        var iterator = consumer.makeAsyncIterator()
        return try await iterator.next()
    }

    @Test func aSecondTaskIteratingTheSameConsumerGetsAClearError() async throws {
        try await FakeBroker.withConnection { broker, connection in
            let channel = try await broker.openChannel(1, on: connection)
            let consuming = Task { try await channel.consume(queue: "q") }
            try await broker.acceptConsume(channel: 1)
            let consumer = try await within("consume()") { try await consuming.value }
            let first = Task { try await Self.next(consumer) }
            try await eventually("the first task waits") { consumer.buffer.hasWaiter }
            let error = try await amqpError("second next()") { try await Self.next(consumer) }
            #expect(error.code == .invalidArgument)
            try await broker.sendRaw(try deliveries(1...1))
            let delivered = try await within("first next()") { try await first.value }
            #expect(delivered?.deliveryTag == 1)
        }
    }
}
