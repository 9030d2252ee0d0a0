import Foundation
import Testing

@testable import Mail

@Suite struct EmailMessageTests {
    static let date = Date(timeIntervalSince1970: 1_795_511_702)  // Tue, 24 Nov 2026 09:15:02 UTC

    static func message(
        subject: String = "Hello", body: String = "Hi there.\n", headers: [EmailHeader] = [],
        to: [Mailbox]? = nil, limits: EmailMessage.Limits = .init()
    ) throws -> EmailMessage {
        try EmailMessage(
            from: Mailbox("noreply@example.com", displayName: "Email Service"),
            to: to ?? [Mailbox("ada@example.org")], subject: subject, body: body, headers: headers, date: date,
            messageID: MessageID("<42.abc@example.com>"), limits: limits)
    }

    @Test func composesTheExpectedBytes() throws {
        let message = try Self.message(headers: [EmailHeader("X-Command-Id", "42")])
        let expected =
            "Date: Tue, 24 Nov 2026 09:15:02 +0000\r\n" + "From: Email Service <noreply@example.com>\r\n"
            + "To: ada@example.org\r\n" + "Subject: Hello\r\n" + "Message-ID: <42.abc@example.com>\r\n"
            + "MIME-Version: 1.0\r\n" + "Content-Type: text/plain; charset=utf-8\r\n"
            + "Content-Transfer-Encoding: quoted-printable\r\n" + "X-Command-Id: 42\r\n" + "\r\n"
            + "Hi there.\r\n"
        #expect(String(decoding: message.bytes, as: UTF8.self) == expected)
        #expect(message.transferEncoding == .quotedPrintable)
    }

    @Test func dateIsRFC5322InUTC() {
        #expect(RFC5322Date.format(Date(timeIntervalSince1970: 0)) == "Thu, 01 Jan 1970 00:00:00 +0000")
        #expect(RFC5322Date.format(Self.date) == "Tue, 24 Nov 2026 09:15:02 +0000")
        #expect(RFC5322Date.format(Date(timeIntervalSince1970: 951_782_400.9)) == "Tue, 29 Feb 2000 00:00:00 +0000")
    }

    @Test func generatedMessageIDsAreUniqueAndUseTheSendersDomain() throws {
        let a = try EmailMessage(from: "a@mail.example.com", to: "b@example.org", subject: "s", body: "b")
        let b = try EmailMessage(from: "a@mail.example.com", to: "b@example.org", subject: "s", body: "b")
        #expect(a.messageID != b.messageID)
        #expect(a.messageID.value.hasPrefix("<"))
        #expect(a.messageID.value.hasSuffix("@mail.example.com>"))
        let custom = try MessageID.unique(domain: "ids.example.net")
        #expect(custom.value.hasSuffix("@ids.example.net>"))
        #expect(throws: EmailValidationError.self) { try MessageID.unique(domain: "bad domain") }
        #expect(throws: EmailValidationError.self) { try MessageID("no-brackets@example.com") }
        #expect(throws: EmailValidationError.self) { try MessageID("<a@b>\r\nBcc: x@y") }
        _ = try MessageID("<a.b@[127.0.0.1]>")
    }

    // MARK: Header encoding and folding

    @Test(arguments: [
        "Grüße aus Köln",
        "Привет, как дела? Это длинная тема письма, которая должна быть разбита на несколько слов",
        "日本語の件名はとても長くなることがあります、そして折り返しが必要です。日本語の件名はとても長い",
        "emoji 🎉🎉🎉 and combining é and a ZWJ family 👨‍👩‍👧‍👦 " + String(repeating: "🎉", count: 40),
        "ASCII but with an encoded-word lookalike =?utf-8?Q?x?= inside",
        String(repeating: "averyveryverylongwordwithoutanyspaces", count: 4),
        "tab\there",
        "  leading and trailing spaces  ",
        "",
        String(repeating: "word ", count: 60),
    ])
    func subjectsRoundTripWithinSeventyEightCharacters(_ subject: String) throws {
        let message = try Self.message(subject: subject)
        let (headers, _) = Decode.split(message.bytes)
        for line in headers { #expect(line.utf8.count <= 78, "\(line)") }
        let lines = try #require(Decode.headerLines("Subject", in: headers))
        #expect(Decode.headerValue(lines) == subject)
        for line in lines { #expect(line.utf8.allSatisfy { $0 < 128 }) }
    }

    @Test func plainASCIISubjectFoldsAtSpacesAndStaysReadable() throws {
        let subject = String(repeating: "folding ", count: 20).trimmingCharacters(in: .whitespaces)
        let lines = HeaderEncoding.unstructured(name: "Subject", value: subject)
        #expect(lines.count > 1)
        #expect(!lines.joined().contains("=?"))
        for line in lines.dropFirst() { #expect(line.hasPrefix(" ")) }
        #expect(lines.joined() == "Subject: " + subject)
    }

    @Test func encodedWordsNeverExceedSeventyFiveCharactersNorSplitACharacter() {
        let text = String(repeating: "ä€😀", count: 50)
        let words = HeaderEncoding.encodedWords(text, firstLineUsed: 8)
        #expect(words.count > 1)
        var decoded = ""
        for word in words {
            #expect(word.utf8.count <= 75)
            // Each word decodes to valid UTF-8 on its own.
            let value = Decode.headerValue(["X: " + word])
            #expect(!value.contains("\u{FFFD}"))
            decoded += value
        }
        #expect(decoded == text)
    }

    @Test func qEncodingIsChosenForMostlyASCIIAndBForTheRest() {
        #expect(
            HeaderEncoding.encodedWords("Hello wonderful wörld", firstLineUsed: 8).first?.hasPrefix("=?utf-8?Q?")
                == true)
        #expect(HeaderEncoding.encodedWords("Привет мир", firstLineUsed: 8).first?.hasPrefix("=?utf-8?B?") == true)
    }

    @Test func longHeaderNameStartsEncodedWordsOnTheNextLine() throws {
        let name = "X-" + String(repeating: "N", count: 62)
        let lines = HeaderEncoding.unstructured(name: name, value: "Grüße")
        #expect(lines.first == name + ":")
        for line in lines { #expect(line.utf8.count <= 78) }
        #expect(Decode.headerValue(lines) == "Grüße")
    }

    @Test func displayNamesAreQuotedOrEncoded() throws {
        #expect(Mailbox.phraseTokens("Ada Lovelace") == ["Ada", "Lovelace"])
        #expect(Mailbox.phraseTokens("Lovelace, Ada") == ["\"Lovelace, Ada\""])
        #expect(Mailbox.phraseTokens("say \"hi\"") == ["\"say \\\"hi\\\"\""])
        let encoded = Mailbox.phraseTokens("Jörg Müller")
        #expect(encoded.allSatisfy { $0.hasPrefix("=?utf-8?") })
        #expect(Decode.headerValue(["From: " + encoded.joined(separator: " ")]) == "Jörg Müller")
    }

    @Test func severalRecipientsFoldAfterCommas() throws {
        let to = try (0..<8).map { try Mailbox("recipient\($0)@example.org", displayName: "Recipient \($0)") }
        let message = try Self.message(to: to)
        let (headers, _) = Decode.split(message.bytes)
        let lines = try #require(Decode.headerLines("To", in: headers))
        #expect(lines.count > 1)
        for line in lines { #expect(line.utf8.count <= 78) }
        #expect(lines.joined().contains("Recipient 0 <recipient0@example.org>, Recipient 1"))
        #expect(message.recipients.count == 8)
    }

    @Test func duplicateRecipientsAreOneEnvelopeRecipient() throws {
        let message = try Self.message(to: [
            Mailbox("a@example.org"), Mailbox("b@example.org"), Mailbox("a@example.org"),
        ])
        #expect(message.recipients.map(\.address) == ["a@example.org", "b@example.org"])
    }

    // MARK: Header injection and other refusals

    @Test(arguments: ["Hello\r\nBcc: victim@example.com", "Hello\nBcc: x@y", "Hello\r", "\n"])
    func lineBreaksInTheSubjectAreHeaderInjection(_ subject: String) {
        let error = #expect(throws: EmailValidationError.self) { try Self.message(subject: subject) }
        #expect(error?.code == .headerInjection)
        #expect(error?.field == "subject")
    }

    @Test func lineBreaksInExtraHeadersAndDisplayNamesAreHeaderInjection() {
        let header = #expect(throws: EmailValidationError.self) {
            try Self.message(headers: [EmailHeader("X-Command-Id", "1\r\nBcc: victim@example.com")])
        }
        #expect(header?.code == .headerInjection)
        #expect(header?.field == "X-Command-Id")
        let name = #expect(throws: EmailValidationError.self) {
            try Mailbox("a@example.com", displayName: "Ada\r\nBcc: victim@example.com")
        }
        #expect(name?.code == .headerInjection)
    }

    @Test(arguments: ["", "Bad Name", "Colon:", "Bcc", "subject", "Content-Type", "X-Ünïcode"])
    func invalidOrReservedHeaderNamesAreRefused(_ name: String) {
        let error = #expect(throws: EmailValidationError.self) {
            try Self.message(headers: [EmailHeader(name, "value")])
        }
        #expect(error?.code == .invalidHeader)
    }

    @Test func controlCharactersInHeadersAreRefused() {
        let error = #expect(throws: EmailValidationError.self) { try Self.message(subject: "bell\u{7}") }
        #expect(error?.code == .invalidHeader)
        #expect(error?.message.contains("control character") == true)
    }

    @Test func limitsAreCheckedWithClearMessages() throws {
        let limits = EmailMessage.Limits(
            maximumSubjectLength: 10, maximumHeaderValueLength: 13, maximumBodySize: 20, maximumMessageSize: 400,
            maximumRecipients: 2)
        _ = try Self.message(subject: "0123456789", body: String(repeating: "b", count: 20), limits: limits)

        let subject = #expect(throws: EmailValidationError.self) {
            try Self.message(subject: "01234567890", limits: limits)
        }
        #expect(subject?.code == .subjectTooLong)
        #expect(subject?.message == "the subject is 11 characters long; at most 10 are allowed")

        let body = #expect(throws: EmailValidationError.self) {
            try Self.message(body: String(repeating: "ü", count: 11), limits: limits)
        }
        #expect(body?.code == .bodyTooLarge)
        #expect(body?.message == "the body is 22 bytes; at most 20 bytes are allowed")

        let header = #expect(throws: EmailValidationError.self) {
            try Self.message(headers: [EmailHeader("X-Long", "12345678901234")], limits: limits)
        }
        #expect(header?.code == .invalidHeader)

        let recipients = #expect(throws: EmailValidationError.self) {
            try Self.message(
                to: [Mailbox("a@example.org"), Mailbox("b@example.org"), Mailbox("c@example.org")], limits: limits)
        }
        #expect(recipients?.code == .invalidRecipients)
        let none = #expect(throws: EmailValidationError.self) { try Self.message(to: []) }
        #expect(none?.code == .invalidRecipients)

        let whole = #expect(throws: EmailValidationError.self) {
            try Self.message(
                body: "0123456789", headers: [EmailHeader("X-A", "12345"), EmailHeader("X-B", "12345")],
                limits: EmailMessage.Limits(maximumMessageSize: 250))
        }
        #expect(whole?.code == .messageTooLarge)
    }

    @Test func convenienceInitializerNamesTheBadField() {
        let to = #expect(throws: EmailValidationError.self) {
            try EmailMessage(from: "a@example.com", to: "not an address", subject: "s", body: "b")
        }
        #expect(to?.field == "to")
        let from = #expect(throws: EmailValidationError.self) {
            try EmailMessage(from: "", to: "b@example.com", subject: "s", body: "b")
        }
        #expect(from?.field == "from")
    }
}
