import AMQPWire
import Foundation
import Testing

@testable import Messaging

// Interoperation with the real nameko 2.14.1 from PyPI (installed by scripts/interop-venv.sh),
// run as child processes from Interop/nameko. A missing Python or nameko fails these tests.

/// `def when(self, when)` on the Swift server: echoes a datetime argument.
private struct WhenArguments: Decodable, Sendable {
    var when: Date
}

private struct WhenReply: Encodable, Sendable {
    var echo: Date
    var seconds: Double
}

private struct NamekoTestFailure: Error, CustomStringConvertible {
    var code: Int
    var description: String { "bad code \(code)" }
}

private struct GreetedPayload: Decodable, Sendable {
    var name: String
    var at: Date
}

@Suite struct NamekoInteropTests {
    // MARK: ClusterRpcProxy calls a Swift server

    /// A Swift server for `service` with the methods caller.py calls.
    static func swiftServer(_ service: String, connection: AMQPConnection) async throws -> Task<Void, any Error> {
        let server = try await NamekoRPCServer.start(
            connection: connection, configuration: .init(service: service, dateEncoding: .kombuDatetime),
            logger: MemoryLog().logger)
        server.respond(to: NamekoHello.self) { hello, _ in "Hello, \(hello.name)\(hello.punctuation ?? "!")" }
        server.respond(to: NamekoFail.self) { fail, _ in throw NamekoTestFailure(code: fail.code) }
        server.register(method: "when", as: WhenArguments.self, positional: ["when"]) { arguments, _ in
            WhenReply(echo: arguments.when, seconds: arguments.when.timeIntervalSince1970)
        }
        server.register(method: "nothing", as: NamekoNoArguments.self) { _, _ in }
        let running = Task { try await server.run() }
        try await waitForConsumer(on: NamekoTopology.rpcQueue(service: service), connection: connection)
        return running
    }

    /// Runs caller.py against `service` and returns its outcomes by case.
    static func clusterRpcProxy(calling service: String, cases: [String]) async throws -> NamekoJSON {
        try await PythonPeer.with("nameko/caller.py", arguments: [service] + cases) { caller in
            let line = try await caller.line { $0.hasPrefix("{") }
            try await caller.succeeded()
            return try NamekoJSON.parse(Array(line.utf8))
        }
    }

    @Test func clusterRpcProxyGetsResultsFromASwiftServer() async throws {
        let service = TestBroker.unique("nk-swiftsvc")
        let connection = try await TestBroker.connect()
        let running = try await Self.swiftServer(service, connection: connection)
        let outcomes = try await Self.clusterRpcProxy(
            calling: service, cases: ["hello", "hello_kwargs", "hello_unicode", "when", "nothing"])
        #expect(outcomes["hello"] == .object(["result": .string("Hello, Bob?")]))
        #expect(outcomes["hello_kwargs"] == .object(["result": .string("Hello, Ann!")]))
        #expect(outcomes["hello_unicode"] == .object(["result": .string("Hello, Zoë ✓!")]))
        // Python sent a datetime (a kombu wrapper); Swift got the instant and sent it back as one.
        #expect(
            outcomes["when"]?["result"]
                == .object([
                    "echo": .string("datetime.datetime(2024, 6, 1, 8, 0, 0, 500000, tzinfo=datetime.timezone.utc)"),
                    "seconds": .number("1717228800.5"),
                ]))
        #expect(outcomes["nothing"] == .object(["result": .null]))
        running.cancel()
        try await running.value
        try await connection.close()
    }

    @Test func clusterRpcProxyRaisesRemoteErrorMethodNotFoundAndIncorrectSignature() async throws {
        let service = TestBroker.unique("nk-swifterr")
        let connection = try await TestBroker.connect()
        let running = try await Self.swiftServer(service, connection: connection)
        let outcomes = try await Self.clusterRpcProxy(calling: service, cases: ["fail", "nope", "badsig", "toomany"])
        #expect(
            outcomes["fail"]
                == .object([
                    "raised": .string("RemoteError"), "exc_type": .string("NamekoTestFailure"),
                    "value": .string("bad code 42"),
                ]))
        #expect(outcomes["nope"] == .object(["raised": .string("MethodNotFound"), "args": .array([.string("nope")])]))
        #expect(
            outcomes["badsig"]
                == .object([
                    "raised": .string("IncorrectSignature"),
                    "args": .array([.string("hello() missing required argument: 'name'")]),
                ]))
        #expect(
            outcomes["toomany"]
                == .object([
                    "raised": .string("IncorrectSignature"),
                    "args": .array([.string("hello() takes 2 positional arguments but 3 were given")]),
                ]))
        running.cancel()
        try await running.value
        try await connection.close()
    }

    // MARK: A Swift client calls a Nameko service

    /// Runs service.py as Nameko service `service` until `body` returns.
    static func withNamekoService<T>(
        _ service: String, environment: [String: String] = [:], connection: AMQPConnection,
        _ body: (PythonPeer) async throws -> T
    ) async throws -> T {
        try await PythonPeer.with(
            "nameko/service.py", environment: environment.merging(["NAMEKO_SERVICE": service]) { a, _ in a }
        ) { peer in
            _ = try await peer.line { $0.contains(#""kind": "ready""#) }
            try await waitForConsumer(on: NamekoTopology.rpcQueue(service: service), connection: connection)
            return try await body(peer)
        }
    }

    @Test func aSwiftClientGetsTypedResultsFromARealNamekoService() async throws {
        let service = TestBroker.unique("nk-pysvc")
        try await TestRouting.$service.withValue(service) {
            let connection = try await TestBroker.connect()
            try await Self.withNamekoService(service, connection: connection) { _ in
                let client = try await NamekoRPCClient.start(
                    connection: connection, name: "swift_tester", logger: MemoryLog().logger)
                #expect(try await client.call(NamekoHello(name: "Bob", punctuation: "?")) == "Hello, Bob?")
                let untyped = try await client.call(
                    service: service, method: "hello", arguments: ["name": "Zoë ✓"], returning: String.self)
                #expect(untyped == "Hello, Zoë ✓!")

                // kombu's datetime, decimal, uuid and date wrappers, decoded.
                let typed = try await client.call(NamekoTyped())
                #expect(typed.at == Date(timeIntervalSince1970: 1_714_566_615.25))
                #expect(typed.amount == Decimal(string: "1.50"))
                #expect(typed.id == UUID(uuidString: "00000000-0000-0000-0000-000000000001"))
                #expect(typed.day == Date(timeIntervalSince1970: 1_717_200_000))

                // A Date argument reaches Python as a str by default, as a datetime when asked.
                let at = Date(timeIntervalSince1970: 1_717_228_800.5)
                let plain = try await client.call(NamekoDescribe(when: at, note: "n"))
                #expect(plain.whenType == "str")
                #expect(plain.when == "2024-06-01T08:00:00.500000+00:00")
                #expect(plain.note == "n")
                let kombuClient = try await NamekoRPCClient.start(
                    connection: connection, dateEncoding: .kombuDatetime, logger: MemoryLog().logger)
                let wrapped = try await kombuClient.call(NamekoDescribe(when: at))
                #expect(wrapped.whenType == "datetime")
                #expect(wrapped.when == "2024-06-01T08:00:00.500000+00:00")
                #expect(wrapped.note == nil)

                // An event dispatched inside the Nameko worker carries the call id stack on.
                let subscriber = try await NamekoEventSubscriber.start(
                    connection: connection, configuration: .init(service: "swift_listener"),
                    logger: MemoryLog().logger)
                let events = Inbox<(String, [String])>()
                subscriber.subscribe(to: NamekoGreeted.self) { event, context in
                    events.add((event.name, context.callIDStack))
                }
                let listening = Task { try await subscriber.run() }
                try await waitForConsumer(on: subscriber.queues[0], connection: connection)
                #expect(try await client.call(NamekoAnnounce(name: "Eve")) == "announced")
                let (name, stack) = try #require(try await events.wait(for: 1).first)
                #expect(name == "Eve")
                #expect(stack.count == 3)
                #expect(stack.first?.hasPrefix("swift_tester.call.") == true)
                #expect(stack.dropFirst().first?.hasPrefix("\(service).announce.") == true)
                #expect(stack.last?.hasPrefix("swift_listener.on_greeted.") == true)
                listening.cancel()
                try await listening.value
                await client.close()
                await kombuClient.close()
            }
            try await connection.close()
        }
    }

    @Test func aNamekoServiceErrorArrivesAsATypedRemoteError() async throws {
        let service = TestBroker.unique("nk-pyerr")
        try await TestRouting.$service.withValue(service) {
            let connection = try await TestBroker.connect()
            try await Self.withNamekoService(service, connection: connection) { _ in
                let client = try await NamekoRPCClient.start(connection: connection, logger: MemoryLog().logger)
                let failed = try await #require(throws: MessagingError.self) {
                    try await client.call(NamekoFail(code: 7))
                }
                #expect(failed.code == .remote)
                #expect(failed.remoteType == "ValueError")
                #expect(failed.message == "('bad code', 7)")
                let remote = try #require(failed.underlying as? NamekoRemoteError)
                #expect(remote.excPath == "builtins.ValueError")
                #expect(remote.excArgs == ["bad code", "7"])

                let unknownMethod = try await #require(throws: MessagingError.self) {
                    try await client.call(
                        service: service, method: "nope", arguments: NamekoNoArguments(), returning: String.self)
                }
                #expect(unknownMethod.remoteType == "MethodNotFound")
                #expect(unknownMethod.message == "nope")

                let badArguments = try await #require(throws: MessagingError.self) {
                    try await client.call(
                        service: service, method: "hello", arguments: NamekoNoArguments(), returning: String.self)
                }
                #expect(badArguments.remoteType == "IncorrectSignature")
                #expect(badArguments.message == "hello() missing 1 required positional argument: 'name'")

                // A Swift server declares rpc-<service> exactly as Nameko did (else 406), so it
                // joins the Nameko instance as a competing consumer.
                let server = try await NamekoRPCServer.start(
                    connection: connection, configuration: .init(service: service), logger: MemoryLog().logger)
                server.respond(to: NamekoHello.self) { hello, _ in "Hello, \(hello.name)!" }
                let running = Task { try await server.run() }
                let channel = try await connection.openChannel()
                let deadline = ContinuousClock.now + .seconds(20)
                var consumers: UInt32 = 0
                while consumers < 2, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                    consumers = try await channel.declareQueue(server.queue, passive: true).consumerCount
                }
                #expect(consumers == 2)
                for index in 0..<6 {
                    #expect(try await client.call(NamekoHello(name: "\(index)")) == "Hello, \(index)!")
                }
                running.cancel()
                try await running.value
                await client.close()
            }
            try await connection.close()
        }
    }

    @Test func aSlowNamekoServiceTimesOutAndItsLateReplyIsDiscarded() async throws {
        let service = TestBroker.unique("nk-pyslow")
        try await TestRouting.$service.withValue(service) {
            let connection = try await TestBroker.connect()
            try await Self.withNamekoService(service, connection: connection) { _ in
                let client = try await NamekoRPCClient.start(connection: connection, logger: MemoryLog().logger)
                let error = try await #require(throws: MessagingError.self) {
                    try await client.call(NamekoSlow(seconds: 1.5), timeout: .milliseconds(300))
                }
                #expect(error.code == .timeout)
                // The late reply arrives while these calls wait; neither takes it for its own.
                #expect(try await client.call(NamekoHello(name: "A"), timeout: .seconds(10)) == "Hello, A!")
                try await Task.sleep(for: .seconds(1.5))
                #expect(try await client.call(NamekoHello(name: "B"), timeout: .seconds(10)) == "Hello, B!")
                await client.close()
            }
            try await connection.close()
        }
    }

    @Test func aCallToANamekoServiceThatIsNotRunningFailsAtOnce() async throws {
        let connection = try await TestBroker.connect()
        let client = try await NamekoRPCClient.start(connection: connection, logger: MemoryLog().logger)
        let started = ContinuousClock.now
        let error = try await #require(throws: MessagingError.self) {
            try await client.call(
                service: TestBroker.unique("nk-nobody"), method: "hello", arguments: ["name": "x"],
                returning: String.self, timeout: .seconds(600))
        }
        #expect(error.code == .unroutable)
        #expect(ContinuousClock.now - started < .seconds(10))
        await client.close()
        try await connection.close()
    }

    // MARK: Events

    @Test func namekoEventsReachASwiftSubscriber() async throws {
        let source = TestBroker.unique("nk-pysource")
        let connection = try await TestBroker.connect()
        let subscriber = try await NamekoEventSubscriber.start(
            connection: connection, configuration: .init(service: "swift_listener"), logger: MemoryLog().logger)
        let events = Inbox<String>()
        let dates = Inbox<Date>()
        subscriber.subscribe(source: source, eventType: "greeted", as: GreetedPayload.self, method: "on_greeted") {
            event, _ in
            dates.add(event.at)
            events.add(event.name)
        }
        let running = Task { try await subscriber.run() }
        // Named and bound like a Nameko SERVICE_POOL handler `swift_listener.on_greeted`.
        try await waitForConsumer(on: "evt-\(source)-greeted--swift_listener.on_greeted", connection: connection)
        try await PythonPeer.with("nameko/dispatch.py", arguments: [source, "greeted", "Zoë"]) { dispatcher in
            try await dispatcher.succeeded()
        }
        #expect(try await events.wait(for: 1) == ["Zoë"])
        #expect(dates.values == [Date(timeIntervalSince1970: 1_717_228_800)])
        running.cancel()
        try await running.value
        try await connection.close()
    }

    @Test func swiftEventsReachANamekoHandler() async throws {
        let source = TestBroker.unique("nk-swiftsource")
        let service = TestBroker.unique("nk-pylistener")
        try await TestRouting.$service.withValue(source) {
            let connection = try await TestBroker.connect()
            try await Self.withNamekoService(
                service, environment: ["SWIFT_EVENT_SOURCE": source], connection: connection
            ) { peer in
                try await waitForConsumer(
                    on: NamekoTopology.eventQueue(
                        source: source, eventType: "swift_greeted", service: service, method: "on_swift_greeted"),
                    connection: connection)
                let dispatcher = try await NamekoEventDispatcher.start(
                    connection: connection, dateEncoding: .kombuDatetime, logger: MemoryLog().logger)
                try await dispatcher.dispatch(
                    SwiftGreeted(name: "Zoë", at: Date(timeIntervalSince1970: 1_717_228_800), count: 3),
                    requireSubscriber: true)
                let line = try await peer.line { $0.contains(#""kind": "event""#) }
                let event = try NamekoJSON.parse(Array(line.utf8))
                #expect(
                    event["payload"]?["name"] == .string("Zoë") && event["payload"]?["count"] == .number("3"),
                    "\(line)")
                #expect(
                    event["types"]
                        == .object(["name": .string("str"), "at": .string("datetime"), "count": .string("int")]))
                #expect(event["at"] == .string("2024-06-01T08:00:00+00:00"))
                await dispatcher.close()
            }
            try await connection.close()
        }
    }
}
