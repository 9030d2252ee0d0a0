public import Foundation

/// `POST /api/emails` answers 202 with this; `GET /api/emails/{id}` answers 200 with it.
public struct EmailResource: Codable, Sendable, Equatable {
    public var id: String
    public var status: Outbox.Status
    public var subject: String
    public var recipient: String
    public var acceptedAt: Date
    /// Why it failed, or what the transport said.
    public var detail: String?

    public init(_ entry: Outbox.Entry) {
        id = entry.id
        status = entry.status
        subject = entry.command.subject
        recipient = entry.command.recipient
        acceptedAt = entry.acceptedAt
        detail = entry.detail
    }
}

/// 422 and 400 bodies.
public struct APIError: Codable, Sendable, Equatable {
    public var error: String
    /// Field name → problem, for validation errors.
    public var fields: [String: String]?

    public init(error: String, fields: [String: String]? = nil) {
        self.error = error
        self.fields = fields
    }
}
