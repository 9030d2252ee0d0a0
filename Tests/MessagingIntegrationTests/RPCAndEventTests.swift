import AMQPWire
import Foundation
import Messaging
import ServiceTestSupport
import Testing

@Suite struct RPCTests {
    static func server(_ name: String, connection: AMQPConnection) async throws -> (
        MessagingService, Task<Void, any Error>
    ) {
        let service = try await MessagingService.start(
            connection: connection, configuration: .init(name: name), logger: MemoryLog().logger)
        service.respond(to: Add.self) { request, _ in
            if request.a < 0 { throw Boom() }
            if request.a == 999 { try await Task.sleep(for: .seconds(2)) }
            return Sum(value: request.a + request.b)
        }
        let running = launch(service)
        try await waitForConsumer(on: Topology.rpcQueue(service: name), connection: connection)
        return (service, running)
    }

    @Test func aCallReturnsTheTypedReply() async throws {
        let name = TestBroker.unique("rpc")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let (_, running) = try await Self.server(name, connection: connection)
            let client = try await MessageBus.start(connection: connection, serviceName: "client")
            #expect(try await client.call(Add(a: 2, b: 3)) == Sum(value: 5))
            async let x = client.call(Add(a: 10, b: 1))
            async let y = client.call(Add(a: 20, b: 2))
            #expect(try await [x, y] == [Sum(value: 11), Sum(value: 22)])
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    @Test func aRemoteFailureArrivesAsATypedRemoteError() async throws {
        let name = TestBroker.unique("rpc-error")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let (_, running) = try await Self.server(name, connection: connection)
            let client = try await MessageBus.start(connection: connection, serviceName: "client")
            let error = try await #require(throws: MessagingError.self) { try await client.call(Add(a: -1, b: 0)) }
            #expect(error.code == .remote)
            #expect(error.remoteType?.hasSuffix("Boom") == true)
            #expect(error.message == "boom")
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    @Test func aSlowServerTimesOutAndItsLateReplyIsDiscarded() async throws {
        let name = TestBroker.unique("rpc-slow")
        try await TestRouting.$service.withValue(name) {
            let connection = try await TestBroker.connect()
            let (_, running) = try await Self.server(name, connection: connection)
            let client = try await MessageBus.start(connection: connection, serviceName: "client")
            let error = try await #require(throws: MessagingError.self) {
                try await client.call(Add(a: 999, b: 0), timeout: .milliseconds(300))
            }
            #expect(error.code == .timeout)
            // The late reply arrives while the next call waits; it must not be taken for this one.
            #expect(try await client.call(Add(a: 1, b: 1), timeout: .seconds(10)) == Sum(value: 2))
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    /// Direct reply-to names the channel a request went out on, so the reply to a request sent
    /// before the client's connection failed can never arrive. That call fails as soon as the
    /// failure is seen (`replyLost`), not at its timeout; calls after the recovery get replies.
    @Test func aCallOrphanedByAConnectionFailureFailsAtOnceAndLaterCallsWork() async throws {
        let name = TestBroker.unique("rpc-recovery")
        try await TestRouting.$service.withValue(name) {
            let serverConnection = try await TestBroker.connect()
            let service = try await MessagingService.start(
                connection: serverConnection, configuration: .init(name: name), logger: MemoryLog().logger)
            let handled = Inbox<Int>()
            // Holds the first request until the client's connection is gone (rabbitmqctl takes
            // seconds on a busy machine; a fixed sleep let the reply through first).
            let gate = Inbox<Int>()
            service.respond(to: Add.self) { request, _ in
                handled.add(request.a)
                if request.a == 7 { _ = try await gate.wait(for: 1, timeout: .seconds(60)) }
                return Sum(value: request.a + request.b)
            }
            let running = launch(service)
            try await waitForConsumer(on: Topology.rpcQueue(service: name), connection: serverConnection)

            let clientName = TestBroker.unique("rpc-client")
            let clientConnection = try await TestBroker.connect(name: clientName)
            var events = clientConnection.events().makeAsyncIterator()
            let client = try await MessageBus.start(connection: clientConnection, serviceName: "client")
            let orphaned = Task { try await client.call(Add(a: 7, b: 0), timeout: .seconds(120)) }
            _ = try await handled.wait(for: 1)
            // The server has the request; give its confirm a moment to reach the client too.
            try await Task.sleep(for: .milliseconds(300))
            try await BrokerControl.closeConnection(named: clientName)
            gate.add(1)

            let error = try await #require(throws: MessagingError.self) { try await orphaned.value }
            #expect(error.code == .replyLost, "\(error)")
            #expect(error.message.contains("may still have been handled"), "\(error)")
            while let event = await events.next() {
                if case .recovered = event { break }
            }
            #expect(try await client.call(Add(a: 1, b: 1), timeout: .seconds(20)) == Sum(value: 2))
            await client.close()
            running.cancel()
            try await running.value
            try await clientConnection.close()
            try await serverConnection.close()
        }
    }

    @Test func aCallWithNoServerFailsAtOnceNotAtItsTimeout() async throws {
        try await TestRouting.$service.withValue(TestBroker.unique("rpc-none")) {
            let connection = try await TestBroker.connect()
            let client = try await MessageBus.start(connection: connection, serviceName: "client")
            let error = try await #require(throws: MessagingError.self) {
                try await client.call(Add(a: 1, b: 2), timeout: .seconds(600))
            }
            #expect(error.code == .unroutable)
            try await connection.close()
        }
    }
}

@Suite struct EventTests {
    @Test func everySubscribingServiceGetsEachEventAndInstancesShare() async throws {
        let source = TestBroker.unique("source")
        try await TestRouting.$service.withValue(source) {
            let connection = try await TestBroker.connect()
            let first = Inbox<String>()
            let second = Inbox<String>()
            var running: [Task<Void, any Error>] = []
            var queues: [String] = []
            // Two instances of one subscriber service share; another service gets its own copy.
            for (service, inbox) in [("a-\(source)", first), ("a-\(source)", first), ("b-\(source)", second)] {
                let subscriber = try await MessagingService.start(
                    connection: connection, configuration: .init(name: service), logger: MemoryLog().logger)
                subscriber.subscribe(to: Happened.self) { event, _ in inbox.add(event.what) }
                running.append(launch(subscriber))
                queues.append(Topology.eventQueue(subscriber: service, messageType: Happened.messageType))
            }
            for queue in Set(queues) { try await waitForConsumer(on: queue, connection: connection) }
            let publisher = try await MessageBus.start(connection: connection, serviceName: source)
            for index in 0..<10 { try await publisher.publish(Happened(what: "e\(index)")) }
            #expect(Set(try await first.wait(for: 10)) == Set((0..<10).map { "e\($0)" }))
            #expect(Set(try await second.wait(for: 10)) == Set((0..<10).map { "e\($0)" }))
            for task in running { task.cancel() }
            for task in running { try await task.value }
            #expect(first.values.count == 10)
            try await connection.close()
        }
    }

    @Test func broadcastSubscribersEachGetEveryEvent() async throws {
        let source = TestBroker.unique("bsource")
        try await TestRouting.$service.withValue(source) {
            let connection = try await TestBroker.connect()
            let inboxes = [Inbox<String>(), Inbox<String>()]
            var running: [Task<Void, any Error>] = []
            for inbox in inboxes {
                let subscriber = try await MessagingService.start(
                    connection: connection, configuration: .init(name: "cache-\(source)"), logger: MemoryLog().logger)
                subscriber.subscribe(to: Happened.self, broadcast: true) { event, _ in inbox.add(event.what) }
                running.append(launch(subscriber))
            }
            let publisher = try await MessageBus.start(connection: connection, serviceName: source)
            // Broadcast queues are server-side per instance; publish until both have bound theirs.
            var published = 0
            let deadline = ContinuousClock.now + .seconds(20)
            while inboxes.contains(where: { $0.values.isEmpty }), ContinuousClock.now < deadline {
                try await publisher.publish(Happened(what: "warmup-\(published)"))
                published += 1
                try await Task.sleep(for: .milliseconds(50))
            }
            try await publisher.publish(Happened(what: "final"))
            for inbox in inboxes {
                let deadline = ContinuousClock.now + .seconds(20)
                while !inbox.values.contains("final"), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(inbox.values.contains("final"))
            }
            for task in running { task.cancel() }
            for task in running { try await task.value }
            try await connection.close()
        }
    }

    @Test func requiringASubscriberMakesAnUnheardEventAnError() async throws {
        let source = TestBroker.unique("unheard")
        try await TestRouting.$service.withValue(source) {
            let connection = try await TestBroker.connect()
            let publisher = try await MessageBus.start(connection: connection, serviceName: source)
            try await publisher.publish(Happened(what: "nobody listens"))
            let error = try await #require(throws: MessagingError.self) {
                try await publisher.publish(Happened(what: "nobody listens"), requireSubscriber: true)
            }
            #expect(error.code == .unroutable)
            try await connection.close()
        }
    }
}
