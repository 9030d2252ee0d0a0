public import Foundation
public import Messaging

// The email service's contract: what other services may send it, call on it and hear from it.
// This library depends only on Messaging, never on the service's internals, so any service can
// link it (the Swift form of a shared "commands package").

/// The service's name: its command queue, RPC queue and event exchange prefix.
public enum EmailService {
    public static let name = "email-service"
}

/// Send an email (fire and forget). The tutorial's `EmailCommand`: subject, body, recipient.
public struct SendEmail: Command, Hashable {
    public static let messageType = "email.send-email.v1"
    public static let destination = EmailService.name

    public var subject: String
    public var body: String
    public var recipient: String

    public init(subject: String, body: String, recipient: String) {
        self.subject = subject
        self.body = body
        self.recipient = recipient
    }
}

/// Send an email and wait for the outcome (like Nameko's `mail.send`).
public struct DeliverEmail: RemoteProcedure, Hashable {
    public typealias Reply = EmailDeliveryOutcome
    public static let messageType = "email.deliver-email.v1"
    public static let destination = EmailService.name

    public var subject: String
    public var body: String
    public var recipient: String

    public init(subject: String, body: String, recipient: String) {
        self.subject = subject
        self.body = body
        self.recipient = recipient
    }
}

/// What happened to an email delivered through ``DeliverEmail``.
public struct EmailDeliveryOutcome: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable {
        case sent
        /// Already delivered before (same message id); not sent again.
        case duplicate
    }

    public var status: Status
    /// The id of the command or request that asked for it.
    public var commandID: String
    /// The transport's reference (an SMTP queue id, a Maildir file name), when it gives one.
    public var reference: String?

    public init(status: Status, commandID: String, reference: String? = nil) {
        self.status = status
        self.commandID = commandID
        self.reference = reference
    }
}

/// An email was delivered.
public struct EmailSent: Event, Hashable {
    public static let messageType = "email.email-sent.v1"
    public static let source = EmailService.name

    public var commandID: String
    public var recipient: String
    public var sentAt: Date

    public init(commandID: String, recipient: String, sentAt: Date) {
        self.commandID = commandID
        self.recipient = recipient
        self.sentAt = sentAt
    }
}

/// An email could not be delivered and will not be retried.
public struct EmailFailed: Event, Hashable {
    public static let messageType = "email.email-failed.v1"
    public static let source = EmailService.name

    public var commandID: String
    public var recipient: String
    public var reason: String

    public init(commandID: String, recipient: String, reason: String) {
        self.commandID = commandID
        self.recipient = recipient
        self.reason = reason
    }
}

/// The wire formats the email service's queue can speak, by the names its configuration uses.
public enum EmailWireFormat {
    public static let names = ["native", "pymessagingframework"]

    /// The tutorial's Python class name for ``SendEmail`` (PyMessagingFramework identifies
    /// messages by class name only).
    public static let pyMessagingFramework = PyMessagingFrameworkFormat(classNames: [
        SendEmail.messageType: "EmailCommand"
    ])

    /// The format called `name` (one of ``names``); native for any other name.
    public static func named(_ name: String) -> any WireFormat {
        name == "pymessagingframework" ? pyMessagingFramework : NativeWireFormat()
    }
}
