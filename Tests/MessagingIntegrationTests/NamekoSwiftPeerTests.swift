import AMQPWire
import Foundation
import Messaging
import Testing

// The Nameko peers against the real broker, Swift on both ends: the cases a Python peer cannot
// produce on demand (requests a foreign caller gets wrong, failing handlers). The interop with the
// real nameko package is in NamekoInteropTests.

/// `def relay(self, name)`: calls `hello` on the same service from inside the worker.
private struct Relay: NamekoProcedure {
    typealias Reply = String
    static var service: String { TestRouting.service }
    static let method = "relay"
    var name: String
}

@Suite struct NamekoSwiftPeerTests {
    @Test func aCallFromInsideAHandlerCarriesTheCallIDStackAndContextData() async throws {
        let service = TestBroker.unique("nk-stack")
        try await TestRouting.$service.withValue(service) {
            let connection = try await TestBroker.connect()
            let client = try await NamekoRPCClient.start(
                connection: connection, name: "tester", logger: MemoryLog().logger)
            let server = try await NamekoRPCServer.start(
                connection: connection, configuration: .init(service: service), logger: MemoryLog().logger)
            let seen = Inbox<NamekoContext>()
            server.respond(to: NamekoHello.self) { hello, context in
                seen.add(context)
                return "Hello, \(hello.name)\(hello.punctuation ?? "!")"
            }
            server.respond(to: Relay.self) { relay, context in
                var context = context
                context.data["language"] = .string("fr")
                return try await client.call(NamekoHello(name: relay.name, punctuation: nil), context: context)
            }
            let running = Task { try await server.run() }
            try await waitForConsumer(on: NamekoTopology.rpcQueue(service: service), connection: connection)

            #expect(try await client.call(Relay(name: "Ann")) == "Hello, Ann!")
            let context = try #require(try await seen.wait(for: 1).first)
            #expect(context.callIDStack.count == 3)
            #expect(context.callIDStack[0].hasPrefix("tester.call."))
            #expect(context.callIDStack[1].hasPrefix("\(service).relay."))
            #expect(context.callIDStack[2] == context.callID)
            #expect(context.callID.hasPrefix("\(service).hello."))
            #expect(context.data == ["language": .string("fr")])
            running.cancel()
            try await running.value
            await client.close()
            try await connection.close()
        }
    }

    @Test func aRequestWithoutReplyToGoesToTheErrorQueueAndTheServerKeepsServing() async throws {
        let service = TestBroker.unique("nk-noreply")
        try await TestRouting.$service.withValue(service) {
            let connection = try await TestBroker.connect()
            let server = try await NamekoRPCServer.start(
                connection: connection, configuration: .init(service: service), logger: MemoryLog().logger)
            let calls = Inbox<String>()
            server.respond(to: NamekoHello.self) { hello, _ in
                calls.add(hello.name)
                return "Hello, \(hello.name)!"
            }
            let running = Task { try await server.run() }
            try await waitForConsumer(on: server.queue, connection: connection)

            // What crashes a Nameko service (captured case X): a request with no reply_to.
            let channel = try await connection.openChannel()
            try await channel.publish(
                #"{"args": ["NoReplyTo"], "kwargs": {}}"#, exchange: NamekoTopology.rpcExchange,
                routingKey: "\(service).hello",
                properties: BasicProperties(contentType: "application/json", correlationID: "c-1"))
            let moved = try await Self.get(from: "\(server.queue).error", channel: channel)
            #expect(moved.bodyString == #"{"args": ["NoReplyTo"], "kwargs": {}}"#)
            #expect(moved.properties.correlationID == "c-1")
            #expect(moved.properties.headers?[FailureHeaders.errorType] == .string("MalformedRequest"))
            #expect(moved.properties.headers?[FailureHeaders.originalQueue] == .string(server.queue))
            try moved.ack()
            #expect(calls.values.isEmpty)

            let client = try await NamekoRPCClient.start(connection: connection, logger: MemoryLog().logger)
            #expect(try await client.call(NamekoHello(name: "Bob")) == "Hello, Bob!")
            running.cancel()
            try await running.value
            await client.close()
            try await connection.close()
        }
    }

    @Test func requestsAForeignCallerGetsWrongAreAnsweredWithNamekosErrors() async throws {
        let service = TestBroker.unique("nk-malformed")
        try await TestRouting.$service.withValue(service) {
            let connection = try await TestBroker.connect()
            let server = try await NamekoRPCServer.start(
                connection: connection, configuration: .init(service: service), logger: MemoryLog().logger)
            server.respond(to: NamekoHello.self) { hello, _ in "Hello, \(hello.name)!" }
            let running = Task { try await server.run() }
            try await waitForConsumer(on: server.queue, connection: connection)

            // A reply queue the way the research's minimal foreign caller declared it (case B).
            let channel = try await connection.openChannel()
            let replies = try await channel.declareQueue(exclusive: true).name
            try await channel.bindQueue(replies, to: NamekoTopology.rpcExchange, routingKey: replies)
            // As in Nameko, the body must be JSON first, then the method must exist, then the envelope be right.
            let cases: [(contentType: String?, method: String, body: String, error: String, value: String)] = [
                (
                    nil, "hello", #"{"args": ["x"], "kwargs": {}}"#, "MalformedRequest",
                    "the message has no content type"
                ),
                ("application/json", "nope", #"{"args": ["x"],"#, "MalformedRequest", "the body is not JSON"),
                ("application/json", "nope", #"{"args": ["x"]}"#, "MethodNotFound", "nope"),
                ("application/json", "hello", #"{"args": ["x"]}"#, "MalformedRequest", "Message missing `args`"),
            ]
            for (index, request) in cases.enumerated() {
                try await channel.publish(
                    request.body, exchange: NamekoTopology.rpcExchange, routingKey: "\(service).\(request.method)",
                    properties: BasicProperties(
                        contentType: request.contentType, correlationID: "c-\(index)", replyTo: replies))
                let reply = try await Self.get(from: replies, channel: channel)
                #expect(reply.exchange == NamekoTopology.rpcExchange)
                #expect(reply.routingKey == replies)
                #expect(
                    reply.properties
                        == BasicProperties(
                            contentType: "application/json", contentEncoding: "utf-8", headers: [:], deliveryMode: 2,
                            priority: 0, correlationID: "c-\(index)"))
                #expect(
                    reply.bodyString.hasPrefix(
                        #"{"result": null, "error": {"exc_type": "\#(request.error)", "exc_path": "nameko.exceptions.\#(request.error)", "exc_args": ["\#(request.value)"#
                    ), "\(reply.bodyString)")
                try reply.ack()
            }
            running.cancel()
            try await running.value
            try await connection.close()
        }
    }

    @Test func aFailingEventHandlerIsRetriedThenItsEventGoesToTheErrorQueue() async throws {
        let source = TestBroker.unique("nk-evtfail")
        try await TestRouting.$service.withValue(source) {
            let connection = try await TestBroker.connect()
            let subscriber = try await NamekoEventSubscriber.start(
                connection: connection,
                configuration: .init(
                    service: "listener", retry: RetryPolicy(immediateRetries: 1, delays: [.milliseconds(200)])),
                logger: MemoryLog().logger)
            let attempts = Inbox<Int>()
            subscriber.subscribe(to: NamekoGreeted.self) { _, context in
                attempts.add(context.attempt)
                throw Boom()
            }
            let queue = NamekoTopology.eventQueue(
                source: source, eventType: "greeted", service: "listener", method: "on_greeted")
            #expect(subscriber.queues == [queue])
            let running = Task { try await subscriber.run() }
            try await waitForConsumer(on: queue, connection: connection)

            let dispatcher = try await NamekoEventDispatcher.start(connection: connection, logger: MemoryLog().logger)
            try await dispatcher.dispatch(NamekoGreeted(name: "Bob"), requireSubscriber: true)
            // Two immediate tries, a delayed retry, two more tries, then the error queue.
            #expect(try await attempts.wait(for: 4) == [1, 2, 3, 4])
            let channel = try await connection.openChannel()
            let failed = try await Self.get(from: "\(queue).error", channel: channel)
            #expect(failed.bodyString == #"{"name": "Bob"}"#)
            #expect(failed.properties.headers?[FailureHeaders.attempts]?.intValue == 4)
            #expect(failed.properties.headers?[FailureHeaders.originalRoutingKey] == .string("greeted"))
            try failed.ack()

            // An event whose data does not decode goes there at once, without running the handler.
            try await dispatcher.dispatch("not an object", source: source, eventType: "greeted")
            let undecodable = try await Self.get(from: "\(queue).error", channel: channel)
            #expect(undecodable.bodyString == #""not an object""#)
            #expect(undecodable.properties.headers?[FailureHeaders.attempts]?.intValue == 1)
            #expect(attempts.values.count == 4)
            running.cancel()
            try await running.value
            await dispatcher.close()
            try await connection.close()
        }
    }

    @Test func cancellingRunLetsACallInFlightFinishAndBeAnswered() async throws {
        let service = TestBroker.unique("nk-drain")
        try await TestRouting.$service.withValue(service) {
            let connection = try await TestBroker.connect()
            let server = try await NamekoRPCServer.start(
                connection: connection, configuration: .init(service: service), logger: MemoryLog().logger)
            let started = Inbox<String>()
            server.respond(to: NamekoSlow.self) { slow, _ in
                started.add("slow")
                try await Task.sleep(for: .seconds(slow.seconds))
                return "finished"
            }
            let running = Task { try await server.run() }
            try await waitForConsumer(on: server.queue, connection: connection)
            let client = try await NamekoRPCClient.start(connection: connection, logger: MemoryLog().logger)
            async let reply = client.call(NamekoSlow(seconds: 0.5), timeout: .seconds(20))
            _ = try await started.wait(for: 1)
            running.cancel()
            try await running.value
            #expect(try await reply == "finished")
            // Acked before run() returned: nothing is left for another instance.
            let channel = try await connection.openChannel()
            let queue = try await channel.declareQueue(server.queue, passive: true)
            #expect(queue.messageCount == 0)
            #expect(queue.consumerCount == 0)
            await client.close()
            try await connection.close()
        }
    }

    @Test func registrationMistakesStopRunWithAnInvalidConfiguration() async throws {
        let connection = try await TestBroker.connect()
        let server = try await NamekoRPCServer.start(
            connection: connection, configuration: .init(service: TestBroker.unique("nk-config")),
            logger: MemoryLog().logger)
        server.register(method: "a.b", as: NamekoNoArguments.self) { _, _ in "unroutable name" }
        let error = try await #require(throws: MessagingError.self) { try await server.run() }
        #expect(error.code == .invalidConfiguration)
        try await connection.close()
    }

    /// The next message in `queue`, waiting up to 20 s for one.
    static func get(from queue: String, channel: AMQPChannel) async throws -> AMQPDelivery {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if let message = try await channel.get(queue: queue) { return message }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("no message in \(queue) within 20 s")
        throw Inbox<Int>.TimedOut()
    }
}
