public import AMQPWire

/// A message as it goes onto the wire: body and AMQP properties.
public struct OutgoingMessage: Sendable {
    public var body: [UInt8]
    public var properties: BasicProperties

    public init(body: [UInt8], properties: BasicProperties) {
        self.body = body
        self.properties = properties
    }
}

/// A message as it came off the wire.
public struct IncomingMessage: Sendable {
    public var body: [UInt8]
    public var properties: BasicProperties
    public var exchange: String
    public var routingKey: String

    public init(body: [UInt8], properties: BasicProperties, exchange: String, routingKey: String) {
        self.body = body
        self.properties = properties
        self.exchange = exchange
        self.routingKey = routingKey
    }
}

/// How message values and metadata map to AMQP bodies and properties. ``NativeWireFormat`` is the
/// default; compatibility formats let a queue speak to other frameworks' services.
public protocol WireFormat: Sendable {
    /// Encodes `message` for publishing.
    func encode<M: MessageContract>(_ message: M, metadata: MessageMetadata) throws -> OutgoingMessage
    /// Reads the metadata, above all the message type, that decides which handler gets it.
    /// Throws ``MessagingError`` (`.serialization`) when the message is not in this format.
    func metadata(of message: IncomingMessage) throws -> MessageMetadata
    /// Decodes the value. Throws ``MessagingError`` (`.serialization`) when it does not decode.
    func decode<M: MessageContract>(_ type: M.Type, from message: IncomingMessage) throws -> M
}
