import Testing

@testable import Mail

/// The pure parts of the SMTP client: reply decoding, capabilities, dot-stuffing, errors.
@Suite struct SMTPProtocolTests {
    static let decoder = SMTPReplyDecoder(maximumLineLength: 64, maximumLines: 5)

    static func decode(_ text: String) throws(SMTPReplyDecodingError) -> (reply: SMTPReply, consumed: Int)? {
        try decoder.decode(Array(text.utf8)[...])
    }

    @Test func singleLineReply() throws {
        let (reply, consumed) = try #require(try Self.decode("250 OK\r\n"))
        #expect(reply.code == 250)
        #expect(reply.lines == ["OK"])
        #expect(consumed == 8)
        #expect(reply.isPositiveCompletion)
    }

    @Test func multiLineReplyKeepsEveryLine() throws {
        let text = "250-mail.example.com Hello\r\n250-SIZE 1000\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
        let (reply, consumed) = try #require(try Self.decode(text))
        #expect(reply.code == 250)
        #expect(reply.lines == ["mail.example.com Hello", "SIZE 1000", "AUTH PLAIN LOGIN", "HELP"])
        #expect(consumed == text.utf8.count)
    }

    @Test func codeAloneAndBareLFAreAccepted() throws {
        #expect(try Self.decode("354\r\n")?.reply.code == 354)
        #expect(try Self.decode("221 bye\n")?.reply.lines == ["bye"])
    }

    @Test func incompleteReplyNeedsMoreBytes() throws {
        #expect(try Self.decode("") == nil)
        #expect(try Self.decode("250 O") == nil)
        #expect(try Self.decode("250-first\r\n250 sec") == nil)
        #expect(try Self.decode("250 OK\r") == nil)
    }

    @Test func bytesFedOneAtATimeGiveTheSameRepliesInOrder() throws {
        let stream = Array("220 hi\r\n250-a\r\n250 b\r\n354 go\r\n".utf8)
        var buffer: [UInt8] = []
        var replies: [SMTPReply] = []
        for byte in stream {
            buffer.append(byte)
            while let (reply, consumed) = try Self.decoder.decode(buffer[...]) {
                replies.append(reply)
                buffer.removeFirst(consumed)
            }
        }
        #expect(buffer.isEmpty)
        #expect(replies.map(\.code) == [220, 250, 354])
        #expect(replies[1].lines == ["a", "b"])
    }

    @Test(arguments: [
        "hello world\r\n",
        "25 short\r\n",
        "2500 four digits\r\n",
        "600 bad class\r\n",
        "160 bad class\r\n",
        "270 bad second digit\r\n",
        "250x bad separator\r\n",
        "250-first\r\n251 second\r\n",
        "\r\n",
    ])
    func malformedRepliesAreErrors(_ text: String) {
        #expect(throws: SMTPReplyDecodingError.self) { try Self.decode(text) }
    }

    @Test func overLongLineIsAnErrorBeforeItEnds() {
        let long = "250 " + String(repeating: "x", count: 80)
        let complete = #expect(throws: SMTPReplyDecodingError.self) { try Self.decode(long + "\r\n") }
        #expect(complete?.message.contains("longer than 64") == true)
        // No newline yet: still an error, so a server cannot make the client buffer without end.
        #expect(throws: SMTPReplyDecodingError.self) { try Self.decode(long) }
    }

    @Test func tooManyLinesIsAnError() throws {
        let text = String(repeating: "250-x\r\n", count: 6) + "250 end\r\n"
        let error = #expect(throws: SMTPReplyDecodingError.self) { try Self.decode(text) }
        #expect(error?.message.contains("more than 5 lines") == true)
        #expect(throws: SMTPReplyDecodingError.self) { try Self.decode(String(repeating: "250-x\r\n", count: 6)) }
        #expect(try Self.decode(String(repeating: "250-x\r\n", count: 4) + "250 end\r\n") != nil)
    }

    @Test func enhancedStatusCodeIsParsedWhenItsClassMatches() throws {
        #expect(try Self.decode("550 5.1.1 no such user\r\n")?.reply.enhancedStatusCode == "5.1.1")
        #expect(try Self.decode("250 2.0.0 Ok: queued\r\n")?.reply.enhancedStatusCode == "2.0.0")
        #expect(try Self.decode("451 4.7.1 try later\r\n")?.reply.enhancedStatusCode == "4.7.1")
        #expect(try Self.decode("550 4.1.1 wrong class\r\n")?.reply.enhancedStatusCode == nil)
        #expect(try Self.decode("250 OK\r\n")?.reply.enhancedStatusCode == nil)
        #expect(try Self.decode("250 2.0.1234 too long\r\n")?.reply.enhancedStatusCode == nil)
        #expect(try Self.decode("250 2.0.0\r\n")?.reply.enhancedStatusCode == "2.0.0")
    }

    @Test func nonUTF8TextIsReplacedNotFatal() throws {
        let bytes: [UInt8] = Array("550 bad ".utf8) + [0xFF, 0xFE] + [13, 10]
        let decoded = try #require(try Self.decoder.decode(bytes[...]))
        #expect(decoded.reply.code == 550)
        #expect(decoded.reply.lines[0].hasPrefix("bad "))
    }

    @Test func capabilitiesFromTheEHLOReply() throws {
        let reply = SMTPReply(
            code: 250, lines: ["mx.example.com", "size 35882577", "AUTH=LOGIN", "auth plain cram-md5", "8BITMIME"])
        let capabilities = SMTPCapabilities(ehloReply: reply)
        #expect(capabilities.maximumSize == 35_882_577)
        #expect(capabilities.authMechanisms == ["LOGIN", "PLAIN", "CRAM-MD5"])
        #expect(capabilities.supports("8bitmime"))
        #expect(!capabilities.supports("PIPELINING"))
        #expect(SMTPCapabilities(ehloReply: SMTPReply(code: 250, lines: ["x", "SIZE"])).maximumSize == 0)
        #expect(SMTPCapabilities().maximumSize == nil)
    }

    // MARK: What the client sends

    @Test(arguments: [
        ("a\r\n", "a\r\n.\r\n"),
        (".a\r\n", "..a\r\n.\r\n"),
        ("a\r\n.\r\nb\r\n", "a\r\n..\r\nb\r\n.\r\n"),
        ("x\r\n..two\r\n", "x\r\n...two\r\n.\r\n"),
        ("a.b\r\nc.\r\n", "a.b\r\nc.\r\n.\r\n"),
        ("no final newline", "no final newline\r\n.\r\n"),
        ("", "\r\n.\r\n"),
        (".", "..\r\n.\r\n"),
    ])
    func dataContentIsDotStuffedAndTerminated(_ input: String, _ expected: String) {
        #expect(String(decoding: SMTPCommands.dataContent(Array(input.utf8)), as: UTF8.self) == expected)
    }

    @Test func commandsAndAuthResponses() throws {
        let address = try EmailAddress("a@example.com")
        #expect(SMTPCommands.mailFrom(address, size: nil) == "MAIL FROM:<a@example.com>")
        #expect(SMTPCommands.mailFrom(address, size: 1234) == "MAIL FROM:<a@example.com> SIZE=1234")
        #expect(SMTPCommands.rcptTo(address) == "RCPT TO:<a@example.com>")
        // RFC 4616's example: NUL tim NUL tanstaaftanstaaf.
        let credentials = SMTPCredentials(username: "tim", password: "tanstaaftanstaaf")
        #expect(SMTPCommands.plainResponse(credentials) == "AHRpbQB0YW5zdGFhZnRhbnN0YWFm")
    }

    // MARK: Errors

    @Test func transientAndPermanentFailures() {
        func rejected(_ code: Int) -> SMTPError {
            SMTPError(step: .rcptTo, reply: SMTPReply(code: code, lines: ["x"]), "refused")
        }
        #expect(rejected(421).isTransient)
        #expect(rejected(450).isTransient)
        #expect(rejected(452).isTransient)
        #expect(!rejected(550).isTransient)
        #expect(!rejected(554).isTransient)
        #expect(rejected(550).code == .rejected)
        #expect(rejected(250).code == .unexpectedReply)
        #expect(rejected(250).isTransient)
        #expect(SMTPError(.timeout, step: .message, "t").isTransient)
        #expect(SMTPError(.connectionFailed, step: .connect, "t").isTransient)
        #expect(SMTPError(.connectionClosed, step: .data, "t").isTransient)
        #expect(SMTPError(.malformedReply, step: .ehlo, "t").isTransient)
        #expect(!SMTPError(.authenticationUnavailable, step: .auth, "t").isTransient)
        #expect(!SMTPError(.messageTooLarge, step: .mailFrom, "t").isTransient)
        #expect(!SMTPError(.invalidConfiguration, step: .connect, "t").isTransient)
    }

    @Test func errorDescriptionCarriesTheStepAndTheServersWords() {
        let error = SMTPError(
            step: .rcptTo,
            reply: SMTPReply(code: 550, enhancedStatusCode: "5.1.1", lines: ["5.1.1 no such user", "bye"]),
            "the server refused the recipient b@example.com")
        #expect(error.replyCode == 550)
        #expect(error.enhancedStatusCode == "5.1.1")
        #expect(error.serverText == "5.1.1 no such user\nbye")
        #expect(
            error.description
                == "SMTP RCPT TO failed: the server refused the recipient b@example.com: 550 5.1.1 no such user / bye")
    }

    @Test func credentialsNeverPrintThePassword() {
        let credentials = SMTPCredentials(username: "mailer", password: "s3cret")
        #expect(!"\(credentials)".contains("s3cret"))
        #expect(!String(reflecting: credentials).contains("s3cret"))
        let configuration = SMTPConfiguration(host: "h", credentials: credentials)
        #expect(!"\(configuration)".contains("s3cret"))
    }

    @Test func durationsReadWell() {
        #expect(Duration.seconds(30).readable == "30 s")
        #expect(Duration.milliseconds(250).readable == "0.25 s")
        #expect(Duration.milliseconds(1500).readable == "1.5 s")
    }
}
