import AMQPWire
import Foundation

/// PyMessagingFramework's envelope (every release: 1.0.0 to 2.0.1), so a Swift service can take
/// commands from, and send them to, the Python package's services. Documented byte by byte in
/// docs/wire-formats/pymessagingframework.md.
///
/// The body is `{"command_name": "<Python class>", "command_type": "command"|"event",
/// "message": "<the fields as a JSON string>"}`: the fields are JSON inside a JSON string, and the
/// bare Python class name is the only type identifier, so each Swift type needs its Python class
/// name (`classNames`). PyMessagingFramework ignores AMQP properties; this format still writes
/// `message_id`, `type`, `content_type`, `timestamp`, `app_id` and persistence, for Swift
/// consumers and for idempotency. Messages from Python carry no message id: one is made up on
/// receipt, so redeliveries of the same Python message cannot be recognised by id.
public struct PyMessagingFrameworkFormat: WireFormat {
    /// Message type → Python class name, e.g. `[SendEmail.messageType: "EmailCommand"]`.
    public var classNames: [String: String]
    private var messageTypes: [String: String]

    public init(classNames: [String: String]) {
        self.classNames = classNames
        self.messageTypes = Dictionary(classNames.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
    }

    /// The message type reported for a Python class name no Swift type is mapped to, so the
    /// consumer can say exactly what it could not handle.
    public static func unmappedType(_ className: String) -> String { "pymessagingframework:\(className)" }

    struct Envelope: Codable {
        var message: String
        var command_name: String
        var command_type: String?
    }

    public func encode<M: MessageContract>(_ message: M, metadata: MessageMetadata) throws -> OutgoingMessage {
        guard let className = classNames[M.messageType] else {
            throw MessagingError(
                .invalidConfiguration, "no PyMessagingFramework class name is configured for \(M.messageType)")
        }
        let fields: Data
        let body: Data
        do {
            fields = try NativeWireFormat.encoder.encode(message)
            let envelope = Envelope(
                message: String(decoding: fields, as: UTF8.self), command_name: className,
                command_type: message is any Event ? "event" : "command")
            body = try NativeWireFormat.encoder.encode(envelope)
        } catch {
            throw MessagingError(.serialization, "cannot encode \(M.messageType): \(error)", underlying: error)
        }
        var headers: FieldTable = ["x-format": .string("pymessagingframework")]
        if let causation = metadata.causationID { headers["causation-id"] = .string(causation) }
        if let traceparent = metadata.traceparent { headers["traceparent"] = .string(traceparent) }
        return OutgoingMessage(
            body: Array(body),
            properties: BasicProperties(
                contentType: "application/json", headers: headers, deliveryMode: 2,
                correlationID: metadata.correlationID, messageID: metadata.messageID,
                timestamp: metadata.timestamp.map(AMQPTimestamp.init), type: metadata.messageType,
                appID: metadata.appID))
    }

    public func metadata(of message: IncomingMessage) throws -> MessageMetadata {
        let envelope = try Self.envelope(message.body)
        if let kind = envelope.command_type, kind != "command", kind != "event" {
            throw MessagingError(.serialization, "unknown PyMessagingFramework command_type '\(kind)'")
        }
        let p = message.properties
        return MessageMetadata(
            messageID: p.messageID ?? UUID().uuidString.lowercased(),
            messageType: messageTypes[envelope.command_name] ?? Self.unmappedType(envelope.command_name),
            correlationID: p.correlationID, causationID: p.headers?["causation-id"]?.stringValue,
            timestamp: p.timestamp?.date, appID: p.appID, traceparent: p.headers?["traceparent"]?.stringValue)
    }

    public func decode<M: MessageContract>(_ type: M.Type, from message: IncomingMessage) throws -> M {
        let envelope = try Self.envelope(message.body)
        return try NativeWireFormat.decodeJSON(type, from: Array(envelope.message.utf8), what: M.messageType)
    }

    static func envelope(_ body: [UInt8]) throws -> Envelope {
        try NativeWireFormat.decodeJSON(Envelope.self, from: body, what: "PyMessagingFramework envelope")
    }
}
