public import EmailContracts

/// The form's fields as the user typed them, validated into a ``SendEmail`` or per-field errors.
/// The same rules serve the HTML form and the JSON API.
public struct EmailForm: Sendable, Equatable, Codable {
    public var subject: String
    public var body: String
    public var recipient: String

    public init(subject: String, body: String, recipient: String) {
        self.subject = subject
        self.body = body
        self.recipient = recipient
    }

    public static let maximumSubjectLength = 200
    public static let maximumBodyLength = 100_000

    /// Field name → what is wrong, in words for the person who typed it.
    public typealias FieldErrors = [String: String]

    /// The command, or every field's problem at once. `checkAddress` returns why an address is
    /// not acceptable, or nil (the email library's RFC 5322 addr-spec rules).
    public func validated(checkAddress: (String) -> String?) -> Result<SendEmail, FieldErrorList> {
        var errors: FieldErrors = [:]
        let subject = subject.trimmingSpaces
        let recipient = recipient.trimmingSpaces
        if subject.isEmpty {
            errors["subject"] = "Enter a subject."
        } else if subject.count > Self.maximumSubjectLength {
            errors["subject"] = "Keep the subject under \(Self.maximumSubjectLength) characters."
        } else if subject.contains(where: { $0.isNewline }) {
            errors["subject"] = "The subject must be one line."
        } else if subject.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            errors["subject"] = "The subject contains control characters."
        }
        if body.trimmingSpaces.isEmpty {
            errors["body"] = "Enter a message."
        } else if body.count > Self.maximumBodyLength {
            errors["body"] = "Keep the message under \(Self.maximumBodyLength) characters."
        }
        if recipient.isEmpty {
            errors["recipient"] = "Enter the recipient's email address."
        } else if let problem = checkAddress(recipient) {
            errors["recipient"] = problem
        }
        guard errors.isEmpty else { return .failure(FieldErrorList(fields: errors)) }
        return .success(SendEmail(subject: subject, body: body, recipient: recipient))
    }
}

/// Per-field validation errors (the API answers them with 422).
public struct FieldErrorList: Error, Sendable, Equatable, Codable {
    public var fields: [String: String]
}

extension String {
    var trimmingSpaces: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
