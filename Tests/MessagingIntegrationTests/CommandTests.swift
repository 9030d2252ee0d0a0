import AMQPWire
import Foundation
import Messaging
import Testing

@Suite struct CommandTests {
    @Test func aSentCommandIsHandledWithItsMetadata() async throws {
        let name = TestBroker.unique("cmd")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let service = try await MessagingService.start(
                connection: connection, configuration: .init(name: name), logger: MemoryLog().logger)
            let inbox = Inbox<(Ping, MessageContext)>()
            service.handle(Ping.self) { ping, context in inbox.add((ping, context)) }
            let running = launch(service)
            try await waitForConsumer(on: name, connection: connection)

            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            var metadata = MessageMetadata(messageType: Ping.messageType, causationID: "cause-1")
            metadata.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            try await sender.send(Ping(text: "hello", number: 7), metadata: metadata)

            let (ping, context) = try #require(try await inbox.wait(for: 1).first)
            #expect(ping == Ping(text: "hello", number: 7))
            #expect(context.metadata.messageType == "test.ping.v1")
            #expect(context.metadata.appID == "sender")
            #expect(context.metadata.causationID == "cause-1")
            #expect(context.metadata.traceparent == metadata.traceparent)
            #expect(context.metadata.messageID == metadata.messageID)
            #expect(context.attempt == 1)
            #expect(!context.isRedelivery)
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    @Test func aCommandNoQueueTakesIsAnErrorToTheSender() async throws {
        try await TestRouting.$service.withValue(TestBroker.unique("nobody")) {
            let connection = try await TestBroker.connect()
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            let error = try await #require(throws: MessagingError.self) {
                try await sender.send(Ping(text: "lost?", number: 1))
            }
            #expect(error.code == .unroutable)
            // The bus goes on working after a return.
            let again = try await #require(throws: MessagingError.self) {
                try await sender.send(Ping(text: "lost?", number: 2))
            }
            #expect(again.code == .unroutable)
            try await connection.close()
        }
    }

    @Test func competingInstancesHandleEachCommandOnce() async throws {
        let name = TestBroker.unique("compete")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let inbox = Inbox<(Int, Int)>()
            var running: [Task<Void, any Error>] = []
            for instance in 0..<3 {
                let service = try await MessagingService.start(
                    connection: connection, configuration: .init(name: name, concurrency: 4),
                    logger: MemoryLog().logger)
                service.handle(Ping.self) { ping, _ in inbox.add((instance, ping.number)) }
                running.append(launch(service))
            }
            try await waitForConsumer(on: name, connection: connection)
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            for number in 0..<150 { try await sender.send(Ping(text: "n", number: number)) }
            let handled = try await inbox.wait(for: 150)
            #expect(Set(handled.map(\.1)) == Set(0..<150))
            #expect(handled.count == 150)
            for task in running { task.cancel() }
            for task in running { try await task.value }
            #expect(inbox.values.count == 150)
            try await connection.close()
        }
    }

    @Test func aNewerProducerAndAnOlderConsumerWorkTogetherAndTheReverse() async throws {
        let name = TestBroker.unique("evolve")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let old = Inbox<Ping>()
            let oldService = try await MessagingService.start(
                connection: connection, configuration: .init(name: name), logger: MemoryLog().logger)
            oldService.handle(Ping.self) { ping, _ in old.add(ping) }
            let oldRunning = launch(oldService)
            try await waitForConsumer(on: name, connection: connection)
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            try await sender.send(PingV2(text: "new", number: 2, priority: "high"))
            #expect(try await old.wait(for: 1) == [Ping(text: "new", number: 2)])
            oldRunning.cancel()
            try await oldRunning.value

            let new = Inbox<PingV2>()
            let newService = try await MessagingService.start(
                connection: connection, configuration: .init(name: name), logger: MemoryLog().logger)
            newService.handle(PingV2.self) { ping, _ in new.add(ping) }
            let newRunning = launch(newService)
            try await waitForConsumer(on: name, connection: connection)
            try await sender.send(Ping(text: "old", number: 1))
            #expect(try await new.wait(for: 1) == [PingV2(text: "old", number: 1, priority: nil)])
            newRunning.cancel()
            try await newRunning.value
            try await connection.close()
        }
    }

    @Test func shutdownLetsHandlersInFlightFinishAndAck() async throws {
        let name = TestBroker.unique("shutdown")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let started = Inbox<Int>()
            let finished = Inbox<Int>()
            let service = try await MessagingService.start(
                connection: connection, configuration: .init(name: name, concurrency: 3), logger: MemoryLog().logger)
            service.handle(Ping.self) { ping, _ in
                started.add(ping.number)
                try await Task.sleep(for: .milliseconds(500))
                finished.add(ping.number)
            }
            let running = launch(service)
            try await waitForConsumer(on: name, connection: connection)
            let sender = try await MessageBus.start(connection: connection, serviceName: "sender")
            for number in 0..<3 { try await sender.send(Ping(text: "slow", number: number)) }
            _ = try await started.wait(for: 3)
            running.cancel()
            try await running.value
            #expect(Set(finished.values) == [0, 1, 2])
            // All three were acked: nothing is left in the queue to redeliver.
            let channel = try await connection.openChannel()
            let queue = try await channel.declareQueue(name, passive: true)
            #expect(queue.messageCount == 0)
            #expect(queue.consumerCount == 0)
            try await connection.close()
        }
    }

    /// A queue that cannot be declared (here: one that exists with other flags, 406) fails
    /// run(), and the queues already consuming stop with it instead of holding deliveries.
    @Test func aFailedStartStopsTheQueuesAlreadyConsuming() async throws {
        let name = TestBroker.unique("half-started")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let setup = try await connection.openChannel()
            let eventQueue = Topology.eventQueue(subscriber: name, messageType: Happened.messageType)
            try await setup.declareQueue(eventQueue, durable: false)  // the service wants it durable
            let service = try await MessagingService.start(
                connection: connection, configuration: .init(name: name), logger: MemoryLog().logger)
            service.handle(Ping.self) { _, _ in }  // queue `name`, started first (sorted by name)
            service.subscribe(to: Happened.self) { _, _ in }
            let error = try await #require(throws: AMQPError.self) { try await service.run() }
            #expect(error.replyCode == .preconditionFailed, "\(error)")
            let check = try await connection.openChannel()
            #expect(try await check.declareQueue(name, passive: true).consumerCount == 0)
            try await check.deleteQueue(name)
            try await check.deleteQueue(eventQueue)
            try await connection.close()
        }
    }

    /// Every consuming part refuses a concurrency that cannot be a prefetch, before it opens anything.
    @Test func everyConsumerRefusesAConcurrencyOutsideThePrefetchRange() async throws {
        let connection = try await TestBroker.connect()
        let service = await #expect(throws: MessagingError.self) {
            _ = try await MessagingService.start(
                connection: connection, configuration: .init(name: "svc", concurrency: 0))
        }
        let server = await #expect(throws: MessagingError.self) {
            _ = try await NamekoRPCServer.start(
                connection: connection, configuration: .init(service: "svc", concurrency: 0))
        }
        let subscriber = await #expect(throws: MessagingError.self) {
            _ = try await NamekoEventSubscriber.start(
                connection: connection, configuration: .init(service: "svc", concurrency: 70_000))
        }
        for error in [service, server, subscriber] { #expect(error?.code == .invalidConfiguration) }
        try await connection.close()
    }
}
