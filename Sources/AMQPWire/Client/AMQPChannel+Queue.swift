/// What `queue.declare` reports.
public struct QueueDeclareResult: Sendable, Hashable {
    /// The queue's name: the one given, or the broker's for a server-named queue.
    public var name: String
    public var messageCount: UInt32
    public var consumerCount: UInt32
}

extension AMQPChannel {
    /// Declares a queue, creating it unless it exists with the same properties. An empty name
    /// asks the broker to name it (`amq.gen-...`, returned). `exclusive` queues belong to this
    /// connection; `passive` only checks the queue exists (404 otherwise). Arguments carry
    /// RabbitMQ options: `x-queue-type` (`quorum`), `x-message-ttl`, `x-dead-letter-exchange`, ...
    @discardableResult
    public func declareQueue(
        _ name: String = "", durable: Bool = false, exclusive: Bool = false, autoDelete: Bool = false,
        passive: Bool = false, arguments: FieldTable = [:]
    ) async throws -> QueueDeclareResult {
        let reply = try await call(
            .queue(
                .declare(
                    .init(
                        queue: name, passive: passive, durable: durable, exclusive: exclusive, autoDelete: autoDelete,
                        arguments: arguments))))
        guard case .queue(.declareOk(let ok)) = reply else { throw unexpected(reply) }
        if !passive {
            supervisor.recordTopology {
                $0.declared(
                    RecordedQueue(
                        name: ok.queue, durable: durable, exclusive: exclusive, autoDelete: autoDelete,
                        arguments: arguments, isServerNamed: name.isEmpty))
            }
        }
        return QueueDeclareResult(name: ok.queue, messageCount: ok.messageCount, consumerCount: ok.consumerCount)
    }

    public func bindQueue(_ queue: String, to exchange: String, routingKey: String = "", arguments: FieldTable = [:])
        async throws
    {
        try await call(
            .queue(.bind(.init(queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments))))
        supervisor.recordTopology {
            $0.bound(
                RecordedBinding(
                    kind: .queue, destination: queue, source: exchange, routingKey: routingKey, arguments: arguments))
        }
    }

    public func unbindQueue(
        _ queue: String, from exchange: String, routingKey: String = "", arguments: FieldTable = [:]
    ) async throws {
        try await call(
            .queue(.unbind(.init(queue: queue, exchange: exchange, routingKey: routingKey, arguments: arguments))))
        supervisor.recordTopology {
            $0.unbound(
                RecordedBinding(
                    kind: .queue, destination: queue, source: exchange, routingKey: routingKey, arguments: arguments))
        }
    }

    /// Removes every ready message from the queue; returns how many.
    @discardableResult
    public func purgeQueue(_ queue: String) async throws -> UInt32 {
        let reply = try await call(.queue(.purge(.init(queue: queue))))
        guard case .queue(.purgeOk(let ok)) = reply else { throw unexpected(reply) }
        return ok.messageCount
    }

    /// Deletes the queue (only if it has no consumers / no messages, when asked); returns how
    /// many messages it held.
    @discardableResult
    public func deleteQueue(_ queue: String, ifUnused: Bool = false, ifEmpty: Bool = false) async throws -> UInt32 {
        let reply = try await call(.queue(.delete(.init(queue: queue, ifUnused: ifUnused, ifEmpty: ifEmpty))))
        guard case .queue(.deleteOk(let ok)) = reply else { throw unexpected(reply) }
        supervisor.recordTopology { $0.deletedQueue(queue) }
        return ok.messageCount
    }

    func unexpected(_ reply: AMQPMethod) -> AMQPError {
        AMQPError(.protocolError, "unexpected reply \(reply.id)", channel: id)
    }
}
