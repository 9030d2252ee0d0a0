/// An exchange type; RabbitMQ's built-in ones, or any a plugin adds.
public struct ExchangeType: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    public static let direct: ExchangeType = "direct"
    public static let fanout: ExchangeType = "fanout"
    public static let topic: ExchangeType = "topic"
    public static let headers: ExchangeType = "headers"
}

extension AMQPChannel {
    /// Declares an exchange, creating it unless it exists with the same properties (otherwise the
    /// broker closes the channel with 406 PRECONDITION_FAILED). `passive` only checks it exists (404).
    public func declareExchange(
        _ name: String, type: ExchangeType = .direct, durable: Bool = false, autoDelete: Bool = false,
        internal: Bool = false, passive: Bool = false, arguments: FieldTable = [:]
    ) async throws {
        try await call(
            .exchange(
                .declare(
                    .init(
                        exchange: name, type: type.rawValue, passive: passive, durable: durable,
                        autoDelete: autoDelete, internal: `internal`, arguments: arguments))))
        guard !passive, !name.isEmpty else { return }
        supervisor.recordTopology {
            $0.declared(
                RecordedExchange(
                    name: name, type: type.rawValue, durable: durable, autoDelete: autoDelete, internal: `internal`,
                    arguments: arguments))
        }
    }

    /// Deletes an exchange; with `ifUnused`, only when nothing is bound to it.
    public func deleteExchange(_ name: String, ifUnused: Bool = false) async throws {
        try await call(.exchange(.delete(.init(exchange: name, ifUnused: ifUnused))))
        supervisor.recordTopology { $0.deletedExchange(name) }
    }

    /// Binds exchange `destination` to `source` (RabbitMQ's exchange-to-exchange bindings).
    public func bindExchange(
        _ destination: String, to source: String, routingKey: String = "", arguments: FieldTable = [:]
    ) async throws {
        try await call(
            .exchange(
                .bind(.init(destination: destination, source: source, routingKey: routingKey, arguments: arguments))))
        supervisor.recordTopology {
            $0.bound(
                RecordedBinding(
                    kind: .exchange, destination: destination, source: source, routingKey: routingKey,
                    arguments: arguments))
        }
    }

    public func unbindExchange(
        _ destination: String, from source: String, routingKey: String = "", arguments: FieldTable = [:]
    ) async throws {
        try await call(
            .exchange(
                .unbind(.init(destination: destination, source: source, routingKey: routingKey, arguments: arguments))))
        supervisor.recordTopology {
            $0.unbound(
                RecordedBinding(
                    kind: .exchange, destination: destination, source: source, routingKey: routingKey,
                    arguments: arguments))
        }
    }
}
