import Foundation
import Observability
import Synchronization
import Testing

@testable import Mail

/// The SMTP client against a scripted server on loopback: the conversation, timeouts, protocol
/// errors, authentication choices and cancellation.
@Suite struct SMTPClientTests {
    static func message(to recipients: [String] = ["ada@example.org"], body: String = "Hello\n") throws -> EmailMessage
    {
        try EmailMessage(
            from: Mailbox("noreply@example.com"), to: recipients.map { try Mailbox($0) }, subject: "Test",
            body: body)
    }

    static func client(
        _ server: ScriptedSMTPServer, credentials: SMTPCredentials? = nil, timeouts: SMTPTimeouts = .all(.seconds(5)),
        logger: Logger? = nil
    ) -> SMTPClient {
        SMTPClient(
            configuration: SMTPConfiguration(
                host: "127.0.0.1", port: server.port, heloName: "client.example.com", credentials: credentials,
                timeouts: timeouts, maximumReplyLineLength: 512, maximumReplyLines: 20),
            logger: logger)
    }

    /// Sends and returns the error it throws (failing the test if it does not).
    static func failure(_ client: SMTPClient, _ message: EmailMessage) async throws -> SMTPError {
        do {
            let reply = try await client.send(message)
            Issue.record("expected a failure, got \(reply)")
            throw CancellationError()
        } catch let error as SMTPError {
            return error
        }
    }

    static let greetingAndEHLO: [ScriptedSMTPServer.Step] = [
        .reply("220 fake.example.com ESMTP"),
        .expect("EHLO client.example.com"),
        .reply("250-fake.example.com"), .reply("250-SIZE 100000"), .reply("250 8BITMIME"),
    ]

    @Test func deliversWithEveryStepAndDotStuffing() async throws {
        let server = try ScriptedSMTPServer(
            Self.greetingAndEHLO + [
                .expect("MAIL FROM:<noreply@example.com> SIZE="), .reply("250 2.1.0 Ok"),
                .expect("RCPT TO:<ada@example.org>"), .reply("250 2.1.5 Ok"),
                .expect("RCPT TO:<bob@example.org>"), .reply("251 2.1.5 will forward"),
                .expect("DATA"), .reply("354 End data with <CR><LF>.<CR><LF>"),
                .readData, .reply("250 2.0.0 Ok: queued as 4F2A"),
                .expect("QUIT"), .reply("221 2.0.0 Bye"),
            ])
        let message = try Self.message(
            to: ["ada@example.org", "bob@example.org"], body: ".leading dot\n..two\n.\nlast\n")
        let reply = try await Self.client(server).send(message)
        await server.finish()
        #expect(server.failures.isEmpty, "\(server.failures)")
        #expect(reply.code == 250)
        #expect(reply.enhancedStatusCode == "2.0.0")
        #expect(reply.lines == ["2.0.0 Ok: queued as 4F2A"])
        #expect(
            server.lines.first { $0.hasPrefix("MAIL FROM") }
                == "MAIL FROM:<noreply@example.com> SIZE=\(message.bytes.count)")
        let data = try #require(server.data.first)
        #expect(data == SMTPCommands.dataContent(message.bytes))
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains("\r\n..leading dot\r\n...two\r\n..\r\nlast\r\n.\r\n"))
        #expect(text.hasSuffix("\r\n.\r\n"))
        #expect(server.lines.last == "QUIT")
    }

    @Test func fallsBackToHELOWhenEHLOIsRefused() async throws {
        let server = try ScriptedSMTPServer([
            .reply("220 old.example.com SMTP"),
            .expect("EHLO client.example.com"), .reply("502 5.5.2 Command not recognized"),
            .expect("HELO client.example.com"), .reply("250 old.example.com"),
            .expect("MAIL FROM:<noreply@example.com>"), .reply("250 Ok"),
            .expect("RCPT TO:<ada@example.org>"), .reply("250 Ok"),
            .expect("DATA"), .reply("354 go ahead"), .readData, .reply("250 Ok"),
            .expect("QUIT"), .reply("221 Bye"),
        ])
        _ = try await Self.client(server).send(Self.message())
        await server.finish()
        #expect(server.failures.isEmpty, "\(server.failures)")
        // Without EHLO there is no SIZE extension, so no SIZE parameter.
        #expect(server.lines.contains("MAIL FROM:<noreply@example.com>"))
    }

    @Test func authPlainIsPreferredAndItsSecretIsNeverLogged() async throws {
        let server = try ScriptedSMTPServer([
            .reply("220 fake"), .expect("EHLO"), .reply("250-fake"), .reply("250 AUTH LOGIN PLAIN"),
            .expect("AUTH PLAIN AG1haWxlcgBzM2NyZXQ="), .reply("235 2.7.0 Authentication successful"),
            .expect("MAIL FROM"), .reply("250 Ok"), .expect("RCPT TO"), .reply("250 Ok"),
            .expect("DATA"), .reply("354 go"), .readData, .reply("250 Ok"), .expect("QUIT"), .reply("221 Bye"),
        ])
        let records = RecordingLogHandler()
        let logger = Logger(label: "smtp-test", level: .trace, handler: records)
        let credentials = SMTPCredentials(username: "mailer", password: "s3cret")
        _ = try await Self.client(server, credentials: credentials, logger: logger).send(Self.message())
        await server.finish()
        #expect(server.failures.isEmpty, "\(server.failures)")
        let logged = records.lines.joined(separator: "\n")
        #expect(logged.contains("AUTH PLAIN <credentials hidden>"))
        #expect(!logged.contains("s3cret"))
        #expect(!logged.contains("AG1haWxlcgBzM2NyZXQ="))
    }

    @Test func authLoginWhenOnlyLoginIsOffered() async throws {
        let server = try ScriptedSMTPServer([
            .reply("220 fake"), .expect("EHLO"), .reply("250-fake"), .reply("250 AUTH LOGIN"),
            .expect("AUTH LOGIN"), .reply("334 VXNlcm5hbWU6"),
            .expect("bWFpbGVy"), .reply("334 UGFzc3dvcmQ6"),
            .expect("czNjcmV0"), .reply("235 2.7.0 ok"),
            .expect("MAIL FROM"), .reply("250 Ok"), .expect("RCPT TO"), .reply("250 Ok"),
            .expect("DATA"), .reply("354 go"), .readData, .reply("250 Ok"), .expect("QUIT"), .reply("221 Bye"),
        ])
        let records = RecordingLogHandler()
        let logger = Logger(label: "smtp-test", level: .trace, handler: records)
        let credentials = SMTPCredentials(username: "mailer", password: "s3cret")
        _ = try await Self.client(server, credentials: credentials, logger: logger).send(Self.message())
        await server.finish()
        #expect(server.failures.isEmpty, "\(server.failures)")
        #expect(!records.lines.joined().contains("czNjcmV0"))
    }

    @Test func credentialsAreNotSentWhenTheServerOffersNoPlainOrLogin() async throws {
        for ehlo in ["250 SIZE 1000", "250 AUTH CRAM-MD5"] {
            let server = try ScriptedSMTPServer([
                .reply("220 fake"), .expect("EHLO"), .reply("250-fake"), .reply(ehlo),
                .expect("QUIT"), .reply("221 Bye"),
            ])
            let credentials = SMTPCredentials(username: "mailer", password: "s3cret")
            let error = try await Self.failure(Self.client(server, credentials: credentials), Self.message())
            await server.finish()
            #expect(error.code == .authenticationUnavailable)
            #expect(error.step == .auth)
            #expect(!error.isTransient)
            #expect(server.lines.allSatisfy { !$0.contains("AUTH") && !$0.contains("s3cret") })
            #expect(server.lines.last == "QUIT")
        }
    }

    @Test func authenticationFailureIsPermanent() async throws {
        let server = try ScriptedSMTPServer([
            .reply("220 fake"), .expect("EHLO"), .reply("250-fake"), .reply("250 AUTH PLAIN"),
            .expect("AUTH PLAIN"), .reply("535 5.7.8 Authentication credentials invalid"),
            .expect("QUIT"), .reply("221 Bye"),
        ])
        let credentials = SMTPCredentials(username: "mailer", password: "wrong")
        let error = try await Self.failure(Self.client(server, credentials: credentials), Self.message())
        await server.finish()
        #expect(error.code == .rejected)
        #expect(error.step == .auth)
        #expect(error.replyCode == 535)
        #expect(error.enhancedStatusCode == "5.7.8")
        #expect(!error.isTransient)
    }

    @Test func refusedRecipientStopsTheDeliveryWithTheServersWords() async throws {
        let server = try ScriptedSMTPServer(
            Self.greetingAndEHLO + [
                .expect("MAIL FROM"), .reply("250 Ok"),
                .expect("RCPT TO:<ada@example.org>"), .reply("250 Ok"),
                .expect("RCPT TO:<nobody@example.org>"), .reply("550 5.1.1 <nobody@example.org>: user unknown"),
                .expect("QUIT"), .reply("221 Bye"),
            ])
        let error = try await Self.failure(
            Self.client(server), Self.message(to: ["ada@example.org", "nobody@example.org"]))
        await server.finish()
        #expect(error.code == .rejected)
        #expect(error.step == .rcptTo)
        #expect(error.replyCode == 550)
        #expect(error.enhancedStatusCode == "5.1.1")
        #expect(error.serverText == "5.1.1 <nobody@example.org>: user unknown")
        #expect(error.message.contains("nobody@example.org"))
        #expect(!error.isTransient)
        #expect(!server.lines.contains("DATA"))
    }

    @Test func transientRejectionsAreTransient() async throws {
        let cases: [([ScriptedSMTPServer.Step], SMTPStep)] = [
            ([.reply("421 4.3.2 Service not available"), .close], .greeting),
            (Self.greetingAndEHLO + [.expect("MAIL FROM"), .reply("451 4.3.0 try again later")], .mailFrom),
            (
                Self.greetingAndEHLO + [
                    .expect("MAIL FROM"), .reply("250 Ok"), .expect("RCPT TO"), .reply("452 4.5.3 Too many recipients"),
                ], .rcptTo
            ),
            (
                Self.greetingAndEHLO + [
                    .expect("MAIL FROM"), .reply("250 Ok"), .expect("RCPT TO"), .reply("250 Ok"), .expect("DATA"),
                    .reply("354 go"), .readData, .reply("450 4.7.1 greylisted"),
                ], .message
            ),
        ]
        for (script, step) in cases {
            let server = try ScriptedSMTPServer(script)
            let error = try await Self.failure(Self.client(server), Self.message())
            await server.finish()
            #expect(error.code == .rejected)
            #expect(error.step == step)
            #expect(error.isTransient, "\(error)")
        }
    }

    @Test func permanentGreetingAndDataRejections() async throws {
        let greeting = try ScriptedSMTPServer([.reply("554 5.3.2 no service here"), .expect("QUIT")])
        let greetingError = try await Self.failure(Self.client(greeting), Self.message())
        await greeting.finish()
        #expect(greetingError.step == .greeting)
        #expect(!greetingError.isTransient)

        let data = try ScriptedSMTPServer(
            Self.greetingAndEHLO + [
                .expect("MAIL FROM"), .reply("250 Ok"), .expect("RCPT TO"), .reply("250 Ok"), .expect("DATA"),
                .reply("554 5.5.1 no valid recipients"), .expect("QUIT"), .reply("221 Bye"),
            ])
        let dataError = try await Self.failure(Self.client(data), Self.message())
        await data.finish()
        #expect(dataError.step == .data)
        #expect(!dataError.isTransient)
    }

    @Test func messageLargerThanTheServersSizeIsRefusedBeforeMailFrom() async throws {
        let server = try ScriptedSMTPServer([
            .reply("220 fake"), .expect("EHLO"), .reply("250-fake"), .reply("250 SIZE 100"),
            .expect("QUIT"), .reply("221 Bye"),
        ])
        let error = try await Self.failure(Self.client(server), Self.message(body: String(repeating: "x", count: 200)))
        await server.finish()
        #expect(error.code == .messageTooLarge)
        #expect(!error.isTransient)
        #expect(server.lines == ["EHLO client.example.com", "QUIT"])
    }

    // MARK: Timeouts

    @Test func silentServerTimesOutAtTheGreeting() async throws {
        let server = try ScriptedSMTPServer([.stall])
        let start = ContinuousClock.now
        let error = try await Self.failure(
            Self.client(server, timeouts: SMTPTimeouts(greeting: .milliseconds(300))), Self.message())
        let elapsed = ContinuousClock.now - start
        await server.finish()
        #expect(error.code == .timeout)
        #expect(error.step == .greeting)
        #expect(error.isTransient)
        #expect(error.message == "no reply within 0.3 s")
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(5))
    }

    @Test func eachCommandHasItsTimeout() async throws {
        let server = try ScriptedSMTPServer(Self.greetingAndEHLO + [.expect("MAIL FROM"), .stall])
        let error = try await Self.failure(
            Self.client(server, timeouts: SMTPTimeouts(command: .milliseconds(300))), Self.message())
        await server.finish()
        #expect(error.code == .timeout)
        #expect(error.step == .mailFrom)
    }

    @Test func waitingForTheEndOfDataTimesOutOnItsOwnTimeout() async throws {
        let server = try ScriptedSMTPServer(
            Self.greetingAndEHLO + [
                .expect("MAIL FROM"), .reply("250 Ok"), .expect("RCPT TO"), .reply("250 Ok"), .expect("DATA"),
                .reply("354 go"), .readData, .stall,
            ])
        let timeouts = SMTPTimeouts(command: .seconds(5), dataTermination: .milliseconds(300))
        let error = try await Self.failure(Self.client(server, timeouts: timeouts), Self.message())
        await server.finish()
        #expect(error.code == .timeout)
        #expect(error.step == .message)
        #expect(error.isTransient)
    }

    @Test func partialReplyLineStillTimesOut() async throws {
        let server = try ScriptedSMTPServer([.raw(Array("220 half a line".utf8)), .stall])
        let error = try await Self.failure(
            Self.client(server, timeouts: SMTPTimeouts(greeting: .milliseconds(300))), Self.message())
        await server.finish()
        #expect(error.code == .timeout)
    }

    // MARK: Protocol errors

    @Test func garbageInsteadOfAReplyIsMalformed() async throws {
        let server = try ScriptedSMTPServer([.reply("HTTP/1.1 400 Bad Request"), .stall])
        let error = try await Self.failure(Self.client(server), Self.message())
        await server.finish()
        #expect(error.code == .malformedReply)
        #expect(error.step == .greeting)
        #expect(error.isTransient)
    }

    @Test func endlessReplyLineIsCutOffAtTheLimit() async throws {
        // 1 MiB without a newline: the client gives up after its 512-byte line limit.
        let server = try ScriptedSMTPServer([.raw(Array(repeating: UInt8(ascii: "2"), count: 1 << 20)), .stall])
        let error = try await Self.failure(Self.client(server), Self.message())
        await server.finish()
        #expect(error.code == .malformedReply)
        #expect(error.message.contains("longer than 512"))
    }

    @Test func endlessMultiLineReplyIsCutOffAtTheLimit() async throws {
        let server = try ScriptedSMTPServer(
            [.reply("220 fake"), .expect("EHLO")] + Array(repeating: .reply("250-more"), count: 50) + [.stall])
        let error = try await Self.failure(Self.client(server), Self.message())
        await server.finish()
        #expect(error.code == .malformedReply)
        #expect(error.step == .ehlo)
        #expect(error.message.contains("more than 20 lines"))
    }

    @Test func serverClosingMidSessionIsTransient() async throws {
        let server = try ScriptedSMTPServer(Self.greetingAndEHLO + [.expect("MAIL FROM"), .close])
        let error = try await Self.failure(Self.client(server), Self.message())
        await server.finish()
        #expect(error.code == .connectionClosed)
        #expect(error.step == .mailFrom)
        #expect(error.isTransient)
    }

    @Test func unexpectedCodeIsNotTakenForSuccess() async throws {
        let server = try ScriptedSMTPServer(
            Self.greetingAndEHLO + [
                .expect("MAIL FROM"), .reply("250 Ok"), .expect("RCPT TO"), .reply("250 Ok"),
                .expect("DATA"), .reply("250 but where is my 354"), .stall,
            ])
        let error = try await Self.failure(Self.client(server), Self.message())
        await server.finish()
        #expect(error.code == .unexpectedReply)
        #expect(error.step == .data)
        #expect(server.data.isEmpty)
    }

    @Test func refusedConnectionIsATransientConnectFailure() async throws {
        let listener = try ScriptedSMTPServer([])
        await listener.finish()  // the port is closed now
        let error = try await Self.failure(Self.client(listener), Self.message())
        #expect(error.code == .connectionFailed)
        #expect(error.step == .connect)
        #expect(error.isTransient)
    }

    @Test func invalidHeloNameIsAConfigurationError() async throws {
        let client = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: 1, heloName: "bad name"))
        let error = try await Self.failure(client, Self.message())
        #expect(error.code == .invalidConfiguration)
        #expect(!error.isTransient)
    }

    // MARK: Threads and cancellation

    @Test func cancellingTheTaskClosesTheConnectionPromptly() async throws {
        let server = try ScriptedSMTPServer([.stall])
        let client = Self.client(server, timeouts: .all(.seconds(60)))
        let message = try Self.message()
        let task = Task { try await client.send(message) }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(ContinuousClock.now - start < .seconds(5))
        await server.finish()
    }

    @Test func blockedSessionsLeaveTheCooperativePoolFree() async throws {
        // More stalled sessions than the pool has threads. If they blocked pool threads, the sleep
        // below could not finish until they time out, so some would have ended by then. Decided
        // by order of events, not by elapsed time, so a loaded machine cannot fail it.
        let servers = try (0..<6).map { _ in try ScriptedSMTPServer([.stall]) }
        let message = try Self.message()
        let ended = EndedSessions()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for server in servers {
                let client = Self.client(server, timeouts: SMTPTimeouts(greeting: .seconds(10)))
                group.addTask {
                    _ = try? await client.send(message)
                    ended.count.withLock { $0 += 1 }
                }
            }
            try await Task.sleep(for: .milliseconds(100))
            #expect(ended.count.withLock { $0 } == 0, "the sleep finished only after stalled sessions ended")
            group.cancelAll()  // cancellation shuts the stalled sessions' sockets down
            try await group.waitForAll()
        }
        for server in servers { await server.finish() }
    }
}

final class EndedSessions: Sendable {
    let count = Mutex(0)
}

/// Keeps formatted log lines for inspection.
final class RecordingLogHandler: LogHandler {
    private let records = Mutex<[String]>([])
    var lines: [String] { records.withLock { $0 } }
    func write(_ record: LogRecord) {
        let line = LogFormat.line(for: record)
        records.withLock { $0.append(line) }
    }
}
