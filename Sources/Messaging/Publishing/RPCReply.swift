import AMQPWire
import Foundation

/// The reply half of the native RPC format: a success carries the JSON of the reply value with
/// `type` `<request type>.reply`; a failure carries header `x-error-type` and a JSON body
/// `{"type": "...", "message": "..."}` with `type` `<request type>.error`.
enum RPCReply {
    struct ErrorBody: Codable {
        var type: String
        var message: String
    }

    static func success<T: Encodable>(_ value: T, requestType: String, correlationID: String?) throws -> OutgoingMessage
    {
        let body: Data
        do {
            body = try NativeWireFormat.encoder.encode(value)
        } catch {
            throw MessagingError(
                .serialization, "cannot encode the reply to \(requestType): \(error)", underlying: error)
        }
        return OutgoingMessage(
            body: Array(body),
            properties: BasicProperties(
                contentType: "application/json", correlationID: correlationID, type: "\(requestType).reply"))
    }

    static func failure(type: String, message: String, requestType: String, correlationID: String?) -> OutgoingMessage {
        let body = (try? NativeWireFormat.encoder.encode(ErrorBody(type: type, message: message))) ?? Data()
        return OutgoingMessage(
            body: Array(body),
            properties: BasicProperties(
                contentType: "application/json", headers: ["x-error-type": .string(type)],
                correlationID: correlationID, type: "\(requestType).error"))
    }

    static func decode<T: Decodable>(
        _ type: T.Type, from reply: IncomingMessage, format: any WireFormat, what: String
    ) throws -> T {
        if let errorType = reply.properties.headers?["x-error-type"]?.stringValue {
            let body = try? JSONDecoder().decode(ErrorBody.self, from: Data(reply.body))
            throw MessagingError(.remote, body?.message ?? "the remote handler failed", remoteType: errorType)
        }
        return try NativeWireFormat.decodeJSON(type, from: reply.body, what: "reply to \(what)")
    }
}
