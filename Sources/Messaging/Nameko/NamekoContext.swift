public import AMQPWire
import Foundation
public import Observability

/// What a Nameko RPC or event handler gets with each message: Nameko's worker context.
///
/// Pass it to ``NamekoRPCClient/call(_:timeout:context:)`` and
/// ``NamekoEventDispatcher/dispatch(_:context:requireSubscriber:)`` from inside a handler, and
/// the call ids and context data travel on, as they do between Nameko services.
public struct NamekoContext: Sendable {
    /// The service handling the message.
    public var service: String
    /// The handling method (the RPC method, or the event handler's name).
    public var method: String
    /// This worker's id, `<service>.<method>.<uuid>`.
    public var callID: String
    /// The ids of the calls that led here, ending with ``callID``: at most
    /// `parentCallsTracked + 1` (Nameko's `PARENT_CALLS_TRACKED`, default 10).
    public var callIDStack: [String]
    /// Context data: the message's headers with the `nameko.` prefix removed (`language`,
    /// `user_id`, `auth_token`, ...), except the call id stack.
    public var data: [String: FieldValue]
    /// The request's correlation id (RPC).
    public var correlationID: String?
    /// True when the broker delivered this message before (a consumer died before acking it).
    public var isRedelivery: Bool
    /// 1 for the first run; counts retries of an event handler.
    public var attempt: Int
    /// A logger with the service, method and call id as metadata.
    public var logger: Logger

    public init(
        service: String, method: String, callID: String, callIDStack: [String], data: [String: FieldValue] = [:],
        correlationID: String? = nil, isRedelivery: Bool = false, attempt: Int = 1, logger: Logger
    ) {
        self.service = service
        self.method = method
        self.callID = callID
        self.callIDStack = callIDStack
        self.data = data
        self.correlationID = correlationID
        self.isRedelivery = isRedelivery
        self.attempt = attempt
        self.logger = logger
    }

    /// The context of a worker for `message`: its parents' call ids plus a new one, and its
    /// context data.
    init(
        service: String, method: String, headers: FieldTable?, parentCallsTracked: Int, correlationID: String?,
        isRedelivery: Bool, attempt: Int, logger: Logger
    ) {
        let callID = "\(service).\(method).\(UUID().uuidString.lowercased())"
        var stack: [String] = []
        var data: [String: FieldValue] = [:]
        for entry in headers ?? [:] {
            if entry.key == NamekoTopology.callIDStackHeader {
                if case .array(let ids) = entry.value { stack = ids.compactMap(Self.text) }
            } else if entry.key.hasPrefix(NamekoTopology.headerPrefix) {
                data[String(entry.key.dropFirst(NamekoTopology.headerPrefix.count))] = entry.value
            } else {
                data[entry.key] = entry.value
            }
        }
        stack.append(callID)
        var log = logger
        log[metadata: "call-id"] = callID
        self.init(
            service: service, method: method, callID: callID,
            callIDStack: Array(stack.suffix(max(0, parentCallsTracked) + 1)), data: data,
            correlationID: correlationID, isRedelivery: isRedelivery, attempt: attempt, logger: log)
    }

    private static func text(_ value: FieldValue) -> String? {
        switch value {
        case .string(let s): s
        case .stringBytes(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    /// The headers a message sent from this worker carries: its context data as `nameko.<key>`
    /// and its call id stack.
    var outgoingHeaders: FieldTable {
        var headers = FieldTable()
        for key in data.keys.sorted() { headers[NamekoTopology.headerPrefix + key] = data[key] }
        headers[NamekoTopology.callIDStackHeader] = .array(callIDStack.map(FieldValue.string))
        return headers
    }
}
