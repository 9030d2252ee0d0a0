import AMQPWire
import Foundation

/// The native format, version 1 (documented in docs/messaging-wire-format.md):
///
/// - body: the JSON of the value (UTF-8);
/// - properties: `content_type` `application/json`, `type` the message type, `message_id`,
///   `correlation_id`, `timestamp`, `app_id`, `delivery_mode` 2 (persistent);
/// - headers: `causation-id`, `traceparent`, and `x-format` `native/1`.
///
/// Decoding ignores fields the receiver does not know and accepts missing optional fields, so a
/// newer producer and an older consumer (or the reverse) work together.
public struct NativeWireFormat: WireFormat {
    public static let formatName = "native/1"

    public init() {}

    public func encode<M: MessageContract>(_ message: M, metadata: MessageMetadata) throws -> OutgoingMessage {
        let body: Data
        do {
            body = try Self.encoder.encode(message)
        } catch {
            throw MessagingError(
                .serialization, "cannot encode \(M.messageType) as JSON: \(error)", underlying: error)
        }
        var headers: FieldTable = ["x-format": .string(Self.formatName)]
        if let causation = metadata.causationID { headers["causation-id"] = .string(causation) }
        if let traceparent = metadata.traceparent { headers["traceparent"] = .string(traceparent) }
        let properties = BasicProperties(
            contentType: "application/json", headers: headers, deliveryMode: 2,
            correlationID: metadata.correlationID, messageID: metadata.messageID,
            timestamp: metadata.timestamp.map(AMQPTimestamp.init), type: metadata.messageType, appID: metadata.appID)
        return OutgoingMessage(body: Array(body), properties: properties)
    }

    public func metadata(of message: IncomingMessage) throws -> MessageMetadata {
        let p = message.properties
        guard let type = p.type, !type.isEmpty else {
            throw MessagingError(.serialization, "the message has no type property, so no handler can be chosen")
        }
        if let contentType = p.contentType, !contentType.hasPrefix("application/json") {
            throw MessagingError(.serialization, "content type '\(contentType)' is not application/json")
        }
        return MessageMetadata(
            messageID: p.messageID ?? "", messageType: type, correlationID: p.correlationID,
            causationID: p.headers?["causation-id"]?.stringValue, timestamp: p.timestamp?.date, appID: p.appID,
            traceparent: p.headers?["traceparent"]?.stringValue)
    }

    public func decode<M: MessageContract>(_ type: M.Type, from message: IncomingMessage) throws -> M {
        try Self.decodeJSON(type, from: message.body, what: M.messageType)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, from body: [UInt8], what: String) throws -> T {
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode(type, from: Data(body))
        } catch {
            throw MessagingError(
                .serialization, "the body is not a valid \(what): \(Self.describe(error))", underlying: error)
        }
    }

    /// One encoder for every message (configured once; encoding does not change it).
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    /// A one-line reason for a decoding failure (the default description is long and nested).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map(\.stringValue).joined(separator: ".")
            return keys.isEmpty ? "" : " at '\(keys)'"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field '\(key.stringValue)'\(path(context))"
        case .typeMismatch(_, let context): return "\(context.debugDescription)\(path(context))"
        case .valueNotFound(_, let context): return "\(context.debugDescription)\(path(context))"
        case .dataCorrupted(let context): return "\(context.debugDescription)\(path(context))"
        @unknown default: return "\(error)"
        }
    }
}
