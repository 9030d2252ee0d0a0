/// An error from this library that says whether trying again later can help.
///
/// Every error a ``MailTransport`` throws conforms, except `CancellationError`: a service retries
/// the transient ones later and gives up on the others.
///
/// ```swift
/// do {
///     _ = try await transport.deliver(message)
/// } catch let error as any MailError where error.isTransient {
///     // requeue and try again later
/// }
/// ```
public protocol MailError: Error, Sendable, CustomStringConvertible {
    /// True when the same delivery may succeed later (a 4xx reply, a timeout, a lost connection,
    /// a full disk); false when it never will as it stands (a 5xx reply, an invalid message).
    var isTransient: Bool { get }
}

/// Input that cannot become an email: an invalid address, a header that would inject other
/// headers, a subject or body over its limit.
///
/// The `message` is written for the person who typed the input (it may reach a web form), and
/// `field` names the input (`to`, `subject`, a header name). Never transient: the same input fails
/// the same way every time.
public struct EmailValidationError: MailError, Hashable {
    /// What kind of rule was broken. Extensible: switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        private init(_ description: String) { self.description = description }

        /// The address does not follow the RFC 5322 addr-spec syntax (or RFC 5321's domain rules).
        public static let invalidAddress = Code("invalidAddress")
        /// The address, its local part or a domain label is longer than RFC 5321 allows.
        public static let addressTooLong = Code("addressTooLong")
        /// The address has non-ASCII characters, which need SMTPUTF8 (not supported).
        public static let unsupportedAddress = Code("unsupportedAddress")
        /// A header value or address contains CR or LF, which would start a new header line.
        public static let headerInjection = Code("headerInjection")
        /// A header name or value is not allowed (bad characters, a reserved name, too long).
        public static let invalidHeader = Code("invalidHeader")
        /// The message has no recipient, or more than the limit.
        public static let invalidRecipients = Code("invalidRecipients")
        /// The subject is longer than the limit.
        public static let subjectTooLong = Code("subjectTooLong")
        /// The body is larger than the limit.
        public static let bodyTooLarge = Code("bodyTooLarge")
        /// The whole encoded message is larger than the limit.
        public static let messageTooLarge = Code("messageTooLarge")
    }

    public var code: Code
    /// Which input is wrong: `address`, `from`, `to`, `subject`, `body`, `message`, `Message-ID`
    /// or an extra header's name.
    public var field: String
    /// What is wrong, in words for the person who typed it.
    public var message: String

    public init(_ code: Code, field: String, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    /// Always false: invalid input stays invalid.
    public var isTransient: Bool { false }

    public var description: String { "\(field): \(message)" }
}
