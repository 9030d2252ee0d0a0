/// The exchanges, queues and bindings a connection declared, kept up to date with what the
/// broker does to them, so recovery can declare them again in an order that works.
///
/// Pure: the client records successful declarations, deletions and cancellations here.
/// RabbitMQ's rules are followed: deleting a queue or exchange removes its bindings; an
/// auto-delete queue goes with its last consumer, an auto-delete exchange with its last binding.
struct Topology: Sendable, Hashable {
    /// In declaration order, so recovery declares them in the same order.
    private(set) var exchanges: [RecordedExchange] = []
    private(set) var queues: [RecordedQueue] = []
    private(set) var bindings: [RecordedBinding] = []

    mutating func declared(_ exchange: RecordedExchange) {
        if let i = exchanges.firstIndex(where: { $0.name == exchange.name }) {
            exchanges[i] = exchange
        } else {
            exchanges.append(exchange)
        }
    }

    mutating func declared(_ queue: RecordedQueue) {
        if let i = queues.firstIndex(where: { $0.name == queue.name }) {
            queues[i] = queue
        } else {
            queues.append(queue)
        }
    }

    mutating func bound(_ binding: RecordedBinding) {
        if !bindings.contains(binding) { bindings.append(binding) }
    }

    mutating func unbound(_ binding: RecordedBinding) {
        bindings.removeAll { $0 == binding }
        forgetAutoDeleteExchangeIfUnused(binding.source)
    }

    mutating func deletedQueue(_ name: String) {
        queues.removeAll { $0.name == name }
        let sources = bindings.filter { $0.kind == .queue && $0.destination == name }.map(\.source)
        bindings.removeAll { $0.kind == .queue && $0.destination == name }
        for source in Set(sources) { forgetAutoDeleteExchangeIfUnused(source) }
    }

    mutating func deletedExchange(_ name: String) {
        exchanges.removeAll { $0.name == name }
        let sources = bindings.filter { $0.kind == .exchange && $0.destination == name }.map(\.source)
        bindings.removeAll { $0.source == name || ($0.kind == .exchange && $0.destination == name) }
        for source in Set(sources) { forgetAutoDeleteExchangeIfUnused(source) }
    }

    /// The application cancelled the last consumer of `queue`: an auto-delete queue is gone now.
    mutating func lastConsumerCancelled(on queue: String) {
        guard queues.first(where: { $0.name == queue })?.autoDelete == true else { return }
        deletedQueue(queue)
    }

    /// A server-named queue came back under a new name: bindings follow it.
    mutating func renamedQueue(_ old: String, to new: String) {
        for i in queues.indices where queues[i].name == old { queues[i].name = new }
        for i in bindings.indices where bindings[i].kind == .queue && bindings[i].destination == old {
            bindings[i].destination = new
        }
    }

    private mutating func forgetAutoDeleteExchangeIfUnused(_ name: String) {
        guard exchanges.first(where: { $0.name == name })?.autoDelete == true,
            !bindings.contains(where: { $0.source == name })
        else { return }
        deletedExchange(name)
    }

    /// Everything to declare, exchanges first, then queues, then bindings (bindings need both ends).
    var entities: [RecordedEntity] {
        exchanges.map(RecordedEntity.exchange) + queues.map(RecordedEntity.queue) + bindings.map(RecordedEntity.binding)
    }
}
