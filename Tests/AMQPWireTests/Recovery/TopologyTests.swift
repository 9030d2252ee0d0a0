import Testing

@testable import AMQPWire

@Suite struct TopologyTests {
    static func exchange(_ name: String, autoDelete: Bool = false) -> RecordedExchange {
        RecordedExchange(
            name: name, type: "direct", durable: false, autoDelete: autoDelete, internal: false, arguments: [:])
    }
    static func queue(_ name: String, autoDelete: Bool = false, serverNamed: Bool = false) -> RecordedQueue {
        RecordedQueue(
            name: name, durable: false, exclusive: false, autoDelete: autoDelete, arguments: [:],
            isServerNamed: serverNamed)
    }
    static func queueBinding(_ queue: String, _ exchange: String, _ key: String = "") -> RecordedBinding {
        RecordedBinding(kind: .queue, destination: queue, source: exchange, routingKey: key, arguments: [:])
    }
    static func exchangeBinding(_ destination: String, _ source: String) -> RecordedBinding {
        RecordedBinding(kind: .exchange, destination: destination, source: source, routingKey: "", arguments: [:])
    }

    @Test func entitiesComeExchangesFirstThenQueuesThenBindings() {
        var t = Topology()
        t.declared(Self.queue("q"))
        t.bound(Self.queueBinding("q", "x"))
        t.declared(Self.exchange("x"))
        let kinds = t.entities.map { entity -> String in
            switch entity {
            case .exchange: "exchange"
            case .queue: "queue"
            case .binding: "binding"
            case .consumer: "consumer"
            }
        }
        #expect(kinds == ["exchange", "queue", "binding"])
    }

    @Test func redeclaringReplacesAndBindingTwiceIsRecordedOnce() {
        var t = Topology()
        t.declared(Self.exchange("x"))
        t.declared(
            RecordedExchange(
                name: "x", type: "fanout", durable: true, autoDelete: false, internal: false, arguments: [:]))
        t.bound(Self.queueBinding("q", "x"))
        t.bound(Self.queueBinding("q", "x"))
        #expect(t.exchanges.count == 1 && t.exchanges[0].type == "fanout")
        #expect(t.bindings.count == 1)
    }

    @Test func deletingAQueueRemovesItsBindings() {
        var t = Topology()
        t.declared(Self.exchange("x"))
        t.declared(Self.queue("q"))
        t.declared(Self.queue("other"))
        t.bound(Self.queueBinding("q", "x"))
        t.bound(Self.queueBinding("other", "x"))
        t.deletedQueue("q")
        #expect(t.queues.map(\.name) == ["other"])
        #expect(t.bindings == [Self.queueBinding("other", "x")])
    }

    @Test func deletingAnExchangeRemovesBindingsFromAndToIt() {
        var t = Topology()
        t.declared(Self.exchange("a"))
        t.declared(Self.exchange("b"))
        t.bound(Self.exchangeBinding("b", "a"))
        t.bound(Self.queueBinding("q", "b"))
        t.bound(Self.exchangeBinding("c", "b"))
        t.deletedExchange("b")
        #expect(t.exchanges.map(\.name) == ["a"])
        #expect(t.bindings.isEmpty)
    }

    @Test func autoDeleteExchangeGoesWithItsLastBinding() {
        var t = Topology()
        t.declared(Self.exchange("x", autoDelete: true))
        t.bound(Self.queueBinding("q1", "x"))
        t.bound(Self.queueBinding("q2", "x"))
        t.unbound(Self.queueBinding("q1", "x"))
        #expect(t.exchanges.count == 1)
        t.unbound(Self.queueBinding("q2", "x"))
        #expect(t.exchanges.isEmpty)
    }

    @Test func autoDeleteQueueGoesWithItsLastConsumerButAnOrdinaryOneStays() {
        var t = Topology()
        t.declared(Self.queue("auto", autoDelete: true))
        t.declared(Self.queue("kept"))
        t.bound(Self.queueBinding("auto", "x"))
        t.lastConsumerCancelled(on: "auto")
        t.lastConsumerCancelled(on: "kept")
        #expect(t.queues.map(\.name) == ["kept"])
        #expect(t.bindings.isEmpty)
    }

    @Test func aRenamedServerNamedQueueTakesItsBindingsAlong() {
        var t = Topology()
        t.declared(Self.queue("amq.gen-old", serverNamed: true))
        t.bound(Self.queueBinding("amq.gen-old", "x", "k"))
        t.renamedQueue("amq.gen-old", to: "amq.gen-new")
        #expect(t.queues.map(\.name) == ["amq.gen-new"])
        #expect(t.bindings == [Self.queueBinding("amq.gen-new", "x", "k")])
    }
}

@Suite struct RecoveryBackoffTests {
    @Test(arguments: [(1, 250), (2, 500), (3, 1000), (4, 2000), (8, 15000), (40, 15000)])
    func ceilingDoublesUpToTheMaximum(attempt: Int, milliseconds: Int) {
        let ceiling = RecoveryConfiguration.delay(
            attempt: attempt, initial: .milliseconds(250), maximum: .seconds(15), random: 1)
        #expect(ceiling == .milliseconds(milliseconds))
    }

    @Test func jitterSpreadsTheWaitBelowTheCeiling() {
        let half = RecoveryConfiguration.delay(
            attempt: 3, initial: .milliseconds(250), maximum: .seconds(15), random: 0.5)
        let none = RecoveryConfiguration.delay(
            attempt: 3, initial: .milliseconds(250), maximum: .seconds(15), random: 0)
        #expect(half == .milliseconds(500))
        #expect(none == .zero)
    }

    @Test func onlyTransientFailuresAreRecovered() {
        #expect(ConnectionSupervisor.isRecoverable(AMQPError(.ioError, "")))
        #expect(ConnectionSupervisor.isRecoverable(AMQPError(.heartbeatTimeout, "")))
        #expect(ConnectionSupervisor.isRecoverable(AMQPError(.connectionClosedByBroker, "")))
        #expect(!ConnectionSupervisor.isRecoverable(AMQPError(.authenticationFailed, "")))
        #expect(!ConnectionSupervisor.isRecoverable(AMQPError(.virtualHostAccessRefused, "")))
        #expect(!ConnectionSupervisor.isRecoverable(AMQPError(.connectionClosed, "")))
    }
}
