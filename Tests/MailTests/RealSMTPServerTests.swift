import Foundation
import Testing

@testable import Mail

/// The client and the composed messages against a real SMTP server, aiosmtpd, with Python's email
/// package reading back what arrived: an implementation independent of ours.
@Suite struct RealSMTPServerTests {
    static func transport(
        _ server: PythonSMTPServer, credentials: SMTPCredentials? = nil
    ) -> SMTPTransport {
        SMTPTransport(
            configuration: SMTPConfiguration(
                host: "127.0.0.1", port: server.port, heloName: "client.example.com", credentials: credentials,
                timeouts: .all(.seconds(10))))
    }

    static func simpleMessage(to: String = "ada@example.org") throws -> EmailMessage {
        try EmailMessage(from: "noreply@example.com", to: to, subject: "Hello", body: "Hi Ada.\n")
    }

    static let bodies = [
        // Mostly ASCII: quoted-printable, with lines that need dot-stuffing on the wire.
        ".a line starting with a dot\n..and one with two\n.\nGrüße aus Köln — schön! 🎉\n"
            + String(repeating: "a long line that must be soft-broken ", count: 5) + "\nlast line",
        // Mostly Cyrillic: base64.
        "Привет! Это письмо проверяет кодировку base64.\n.точка в начале строки\n"
            + String(repeating: "Съешь же ещё этих мягких французских булок. ", count: 10),
    ]

    @Test(arguments: bodies)
    func utf8MessageArrivesIntactAndParsesBack(_ body: String) async throws {
        try await PythonSMTPServer.with("saving_server.py") { server in
            let subject = "Grüße, Jörg! Ünïcödé subject that is long enough to need folding — 🎉 " + "ok"
            let message = try EmailMessage(
                from: Mailbox("noreply@example.com", displayName: "E-Mail Dienst"),
                to: [Mailbox("ada@example.org", displayName: "Ada Lövelace"), Mailbox("bob@example.org")],
                subject: subject, body: body, headers: [EmailHeader("X-Command-Id", "cmd-42")])
            let receipt = try await Self.transport(server).deliver(message)
            #expect(receipt.transport == "smtp")
            #expect(receipt.detail.hasPrefix("250 2.0.0 Ok: saved as 1"))

            let saved = try #require(try server.savedMessages().first, "\(server.log)")
            let parsed = saved.parsed
            #expect(parsed.mail_from == "noreply@example.com")
            #expect(parsed.rcpt_tos == ["ada@example.org", "bob@example.org"])
            #expect(parsed.mail_options == ["SIZE=\(message.bytes.count)"])
            #expect(parsed.helo == "client.example.com")
            #expect(parsed.subject == subject)
            #expect(parsed.from_display_name == "E-Mail Dienst")
            #expect(parsed.to_addresses == ["ada@example.org", "bob@example.org"])
            #expect(parsed.to.contains("Ada Lövelace"))
            #expect(parsed.message_id == message.messageID.value)
            #expect(parsed.date_parsed)
            #expect(parsed.content_type == "text/plain")
            #expect(parsed.charset == "utf-8")
            #expect(parsed.transfer_encoding == message.transferEncoding.rawValue)
            #expect(parsed.header("X-Command-Id") == "cmd-42")
            #expect(parsed.header("MIME-Version") == "1.0")
            #expect(parsed.defects.isEmpty, "\(parsed.defects)")
            // The body decodes to the text sent (line breaks as LF, a final one added).
            let expectedBody = body.hasSuffix("\n") ? body : body + "\n"
            #expect(parsed.body.replacingOccurrences(of: "\r\n", with: "\n") == expectedBody)

            // What arrived, after the server undid the dot-stuffing, is exactly what was composed.
            #expect(saved.raw == message.bytes)
            let (headers, encodedBody) = Decode.split(saved.raw)
            for line in headers { #expect(line.utf8.count <= 78, "\(line)") }
            let bodyLines = String(decoding: encodedBody, as: UTF8.self).components(separatedBy: "\r\n")
            for line in bodyLines { #expect(line.utf8.count <= 76, "\(line)") }
        }
    }

    @Test func bothTransferEncodingsAreExercised() throws {
        let encodings = try Self.bodies.map {
            try EmailMessage(from: "a@example.com", to: "b@example.com", subject: "s", body: $0).transferEncoding
        }
        #expect(encodings == [.quotedPrintable, .base64])
    }

    @Test func authPlainWithTheRightPasswordDelivers() async throws {
        try await PythonSMTPServer.with("auth_server.py", ["--username", "mailer", "--password", "s3cret pass"]) {
            server in
            let credentials = SMTPCredentials(username: "mailer", password: "s3cret pass")
            _ = try await Self.transport(server, credentials: credentials).deliver(Self.simpleMessage())
            let saved = try #require(try server.savedMessages().first, "\(server.log)")
            #expect(saved.parsed.authenticated)
            #expect(saved.parsed.auth_login == "mailer")
            #expect(saved.parsed.auth_mechanism == "PLAIN")
        }
    }

    @Test func authLoginWhenTheServerOffersOnlyLogin() async throws {
        try await PythonSMTPServer.with(
            "auth_server.py", ["--username", "mailer", "--password", "pässwörd", "--exclude", "PLAIN"]
        ) { server in
            let credentials = SMTPCredentials(username: "mailer", password: "pässwörd")
            _ = try await Self.transport(server, credentials: credentials).deliver(Self.simpleMessage())
            let saved = try #require(try server.savedMessages().first, "\(server.log)")
            #expect(saved.parsed.auth_mechanism == "LOGIN")
        }
    }

    @Test func wrongPasswordIsAPermanentAuthFailure() async throws {
        try await PythonSMTPServer.with("auth_server.py", ["--username", "mailer", "--password", "right"]) { server in
            let credentials = SMTPCredentials(username: "mailer", password: "wrong")
            let error = try await #require(throws: SMTPError.self) {
                try await Self.transport(server, credentials: credentials).deliver(Self.simpleMessage())
            }
            #expect(error.step == .auth)
            #expect(error.replyCode == 535)
            #expect(!error.isTransient)
            #expect(try server.savedMessages().isEmpty)
        }
    }

    @Test func noCredentialsWhenTheServerRequiresAuthIsRefused() async throws {
        try await PythonSMTPServer.with("auth_server.py", ["--username", "mailer", "--password", "right"]) { server in
            let error = try await #require(throws: SMTPError.self) {
                try await Self.transport(server).deliver(Self.simpleMessage())
            }
            #expect(error.step == .mailFrom)
            #expect(error.replyCode == 530)
            #expect(!error.isTransient)
        }
    }

    @Test func credentialsAreNotSentToAServerThatOffersNoAuth() async throws {
        try await PythonSMTPServer.with("saving_server.py") { server in
            let credentials = SMTPCredentials(username: "mailer", password: "s3cret")
            let error = try await #require(throws: SMTPError.self) {
                try await Self.transport(server, credentials: credentials).deliver(Self.simpleMessage())
            }
            #expect(error.code == .authenticationUnavailable)
            #expect(!error.isTransient)
            #expect(try server.savedMessages().isEmpty)
        }
    }

    @Test func transientFailureThenTheRetryIsAccepted() async throws {
        try await PythonSMTPServer.with("tempfail_server.py") { server in
            let transport = Self.transport(server)
            let message = try Self.simpleMessage()
            let error = try await #require(throws: SMTPError.self) { try await transport.deliver(message) }
            #expect(error.code == .rejected)
            #expect(error.step == .message)
            #expect(error.replyCode == 451)
            #expect(error.enhancedStatusCode == "4.3.0")
            #expect(error.isTransient)
            #expect(try server.savedMessages().isEmpty)

            let receipt = try await transport.deliver(message)
            #expect(receipt.detail.hasPrefix("250"))
            let saved = try server.savedMessages()
            #expect(saved.count == 1)
            #expect(saved.first?.parsed.message_id == message.messageID.value)
        }
    }

    @Test func permanentRejectionIsNotTransient() async throws {
        try await PythonSMTPServer.with("reject_server.py") { server in
            let error = try await #require(throws: SMTPError.self) {
                try await Self.transport(server).deliver(Self.simpleMessage(to: "nobody@example.org"))
            }
            #expect(error.code == .rejected)
            #expect(error.step == .rcptTo)
            #expect(error.replyCode == 550)
            #expect(error.enhancedStatusCode == "5.1.1")
            #expect(error.serverText?.contains("User unknown") == true)
            #expect(!error.isTransient)
            #expect(try server.savedMessages().isEmpty)
        }
    }
}
