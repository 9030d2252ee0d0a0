import Observability
import POSIXSockets

/// One SMTP session over a blocking, deadline-bounded socket: connect, greeting, EHLO (or HELO),
/// AUTH, MAIL FROM, RCPT TO, DATA, the message, QUIT. It runs on one dedicated thread from start
/// to end (``SMTPClient`` starts it), never on Swift concurrency's pool.
///
/// Commands are sent one at a time (no PIPELINING): a session carries a message or two, where a
/// round trip per command costs nothing that matters, and every reply belongs to one command.
final class SMTPSession {
    private let socket: Socket
    private let configuration: SMTPConfiguration
    private let logger: Logger?
    private let decoder: SMTPReplyDecoder
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 4096)

    private init(socket: Socket, configuration: SMTPConfiguration, logger: Logger?) {
        self.socket = socket
        self.configuration = configuration
        self.logger = logger
        self.decoder = SMTPReplyDecoder(
            maximumLineLength: configuration.maximumReplyLineLength, maximumLines: configuration.maximumReplyLines)
    }

    /// Delivers `message` and returns the server's reply to the end of DATA. Blocks the thread.
    ///
    /// - Throws: ``SMTPError``; `CancellationError` once `cancellation` has fired.
    static func deliver(
        _ message: EmailMessage, configuration: SMTPConfiguration, logger: Logger?, cancellation: SocketCancellation
    ) throws -> SMTPReply {
        try validate(configuration)
        let timeouts = configuration.timeouts
        let socket: Socket
        do {
            socket = try Socket.connect(
                host: configuration.host, port: configuration.port, deadline: .now + timeouts.connect)
        } catch {
            if error.kind == .timeout {
                throw SMTPError(.timeout, step: .connect, "no connection within \(timeouts.connect.readable)")
            }
            throw SMTPError(.connectionFailed, step: .connect, error.message)
        }
        guard cancellation.attach(socket.fd) else { throw CancellationError() }
        defer {
            cancellation.detach()
            socket.close()
        }
        logger?.debug("connected", metadata: ["host": configuration.host, "port": "\(configuration.port)"])
        let session = SMTPSession(socket: socket, configuration: configuration, logger: logger)
        do {
            let reply = try session.transaction(message)
            session.quit()
            return reply
        } catch {
            if cancellation.isCancelled { throw CancellationError() }
            // After a refusal the session is still in step: say goodbye. After a timeout or a
            // broken reply it is not, and closing is all there is to do.
            if error.code == .rejected || error.code == .authenticationUnavailable || error.code == .messageTooLarge {
                session.quit()
            }
            throw error
        }
    }

    private static func validate(_ configuration: SMTPConfiguration) throws(SMTPError) {
        guard AddressParser.isValidDomain(configuration.heloName) else {
            throw SMTPError(
                .invalidConfiguration, step: .connect,
                "the HELO name must be a host name or an address literal such as [192.0.2.1]")
        }
        guard (1...65535).contains(configuration.port) else {
            throw SMTPError(.invalidConfiguration, step: .connect, "the port must be 1 to 65535")
        }
        if let credentials = configuration.credentials,
            credentials.username.utf8.contains(0) || credentials.password.utf8.contains(0)
        {
            throw SMTPError(.invalidConfiguration, step: .connect, "the credentials cannot contain NUL")
        }
    }

    // MARK: The conversation

    private func transaction(_ message: EmailMessage) throws(SMTPError) -> SMTPReply {
        let timeouts = configuration.timeouts
        let greeting = try readReply(step: .greeting, deadline: .now + timeouts.greeting, timeout: timeouts.greeting)
        guard greeting.isPositiveCompletion else {
            throw SMTPError(step: .greeting, reply: greeting, "the server did not accept the connection")
        }

        let capabilities = try hello()
        if let credentials = configuration.credentials {
            try authenticate(credentials, capabilities: capabilities)
        }

        var size: Int?
        if let maximum = capabilities.maximumSize {
            size = message.bytes.count
            if maximum > 0 && message.bytes.count > maximum {
                throw SMTPError(
                    .messageTooLarge, step: .mailFrom,
                    "the message is \(message.bytes.count) bytes; the server accepts at most \(maximum)")
            }
        }
        let mail = try command(SMTPCommands.mailFrom(message.from.address, size: size), step: .mailFrom)
        guard mail.isPositiveCompletion else {
            throw SMTPError(step: .mailFrom, reply: mail, "the server refused the sender \(message.from.address)")
        }
        for recipient in message.recipients {
            let reply = try command(SMTPCommands.rcptTo(recipient), step: .rcptTo)
            guard reply.isPositiveCompletion else {
                throw SMTPError(step: .rcptTo, reply: reply, "the server refused the recipient \(recipient)")
            }
        }

        let data = try command("DATA", step: .data, timeout: timeouts.dataInitiation)
        guard data.code == 354 else {
            throw SMTPError(step: .data, reply: data, "the server did not accept DATA")
        }
        try writeMessage(SMTPCommands.dataContent(message.bytes))
        let end = try readReply(
            step: .message, deadline: .now + timeouts.dataTermination, timeout: timeouts.dataTermination)
        guard end.isPositiveCompletion else {
            throw SMTPError(step: .message, reply: end, "the server refused the message")
        }
        logger?.debug("message accepted", metadata: ["message-id": message.messageID.value, "reply": "\(end)"])
        return end
    }

    /// EHLO, or HELO when the server answers EHLO with 5xx (RFC 5321 section 3.2).
    private func hello() throws(SMTPError) -> SMTPCapabilities {
        let ehlo = try command("EHLO \(configuration.heloName)", step: .ehlo)
        if ehlo.isPositiveCompletion { return SMTPCapabilities(ehloReply: ehlo) }
        guard ehlo.isPermanentNegative else {
            throw SMTPError(step: .ehlo, reply: ehlo, "the server refused EHLO")
        }
        logger?.debug("EHLO refused, trying HELO", metadata: ["reply": "\(ehlo)"])
        let helo = try command("HELO \(configuration.heloName)", step: .helo)
        guard helo.isPositiveCompletion else {
            throw SMTPError(step: .helo, reply: helo, "the server refused EHLO and HELO")
        }
        return SMTPCapabilities()
    }

    /// AUTH PLAIN if offered, else AUTH LOGIN; never anything weaker, and never without an
    /// offer. What is sent is logged without the secrets.
    private func authenticate(_ credentials: SMTPCredentials, capabilities: SMTPCapabilities) throws(SMTPError) {
        let mechanisms = capabilities.authMechanisms
        let failed = "authentication as \(credentials.username) failed"
        if mechanisms.contains("PLAIN") {
            let response = SMTPCommands.plainResponse(credentials)
            var reply = try command("AUTH PLAIN \(response)", step: .auth, logged: "AUTH PLAIN <credentials hidden>")
            if reply.code == 334 {
                // The server ignored the initial response and asks for it (RFC 4954 allows both).
                reply = try command(response, step: .auth, logged: "<credentials hidden>")
            }
            guard reply.code == 235 else { throw SMTPError(step: .auth, reply: reply, failed) }
        } else if mechanisms.contains("LOGIN") {
            var reply = try command("AUTH LOGIN", step: .auth)
            guard reply.code == 334 else { throw SMTPError(step: .auth, reply: reply, failed) }
            reply = try command(
                SMTPCommands.base64(credentials.username.utf8), step: .auth, logged: "<username, base64>")
            guard reply.code == 334 else { throw SMTPError(step: .auth, reply: reply, failed) }
            reply = try command(
                SMTPCommands.base64(credentials.password.utf8), step: .auth, logged: "<password hidden>")
            guard reply.code == 235 else { throw SMTPError(step: .auth, reply: reply, failed) }
        } else {
            let offered = capabilities.supports("AUTH")
            throw SMTPError(
                .authenticationUnavailable, step: .auth,
                offered
                    ? "the server offers AUTH \(mechanisms.sorted().joined(separator: " ")) but neither PLAIN nor LOGIN; "
                        + "the credentials are not sent"
                    : "credentials are configured but the server does not offer AUTH; the credentials are not sent")
        }
        logger?.debug("authenticated", metadata: ["username": credentials.username])
    }

    /// QUIT and its reply, bounded by the quit timeout; failures are only logged (the message,
    /// if any, is already delivered).
    private func quit() {
        do {
            let reply = try command("QUIT", step: .quit, timeout: configuration.timeouts.quit)
            logger?.debug("quit", metadata: ["reply": "\(reply)"])
        } catch {
            logger?.debug("QUIT failed", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Bytes

    /// Sends `line` CRLF and reads the reply, both before one deadline.
    private func command(
        _ line: String, step: SMTPStep, timeout: Duration? = nil, logged: String? = nil
    ) throws(SMTPError) -> SMTPReply {
        let timeout = timeout ?? configuration.timeouts.command
        let deadline = ContinuousClock.now + timeout
        logger?.trace("C: \(logged ?? line)")
        try write(Array((line + "\r\n").utf8), step: step, deadline: deadline, timeout: timeout)
        return try readReply(step: step, deadline: deadline, timeout: timeout)
    }

    /// The DATA content in blocks of 64 KiB, each with its own deadline.
    private func writeMessage(_ content: [UInt8]) throws(SMTPError) {
        let timeout = configuration.timeouts.dataBlock
        var start = 0
        while start < content.count {
            let end = min(start + 65536, content.count)
            try write(Array(content[start..<end]), step: .message, deadline: .now + timeout, timeout: timeout)
            start = end
        }
        logger?.trace("C: <message, \(content.count) bytes with the final dot>")
    }

    private func write(
        _ bytes: [UInt8], step: SMTPStep, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(SMTPError) {
        // withUnsafeBytes rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(SocketError) in try socket.write(raw, deadline: deadline) }
        }
        if case .failure(let error) = result { throw Self.error(error, step: step, timeout: timeout, writing: true) }
    }

    private func readReply(
        step: SMTPStep, deadline: ContinuousClock.Instant, timeout: Duration
    ) throws(SMTPError) -> SMTPReply {
        while true {
            let decoded: (reply: SMTPReply, consumed: Int)?
            do {
                decoded = try decoder.decode(buffer[...])
            } catch {
                throw SMTPError(.malformedReply, step: step, error.message)
            }
            if let decoded {
                buffer.removeFirst(decoded.consumed)
                logger?.trace("S: \(decoded.reply.code) \(decoded.reply.text)")
                return decoded.reply
            }
            let socket = socket
            let result = chunk.withUnsafeMutableBytes { raw in
                Result { () throws(SocketError) in try socket.read(into: raw, deadline: deadline) }
            }
            switch result {
            case .success(let count): buffer += chunk[..<count]
            case .failure(let error): throw Self.error(error, step: step, timeout: timeout, writing: false)
            }
        }
    }

    private static func error(_ error: SocketError, step: SMTPStep, timeout: Duration, writing: Bool) -> SMTPError {
        switch error.kind {
        case .timeout:
            SMTPError(
                .timeout, step: step,
                writing ? "could not send within \(timeout.readable)" : "no reply within \(timeout.readable)")
        case .closed:
            SMTPError(.connectionClosed, step: step, "the server closed the connection")
        case .resolve, .connect:
            SMTPError(.connectionFailed, step: step, error.message)
        case .io:
            SMTPError(.connectionClosed, step: step, "the connection failed: \(error.message)")
        }
    }
}

extension Duration {
    /// `30 s`, `0.25 s`.
    var readable: String {
        let (seconds, attoseconds) = components
        let milliseconds = attoseconds / 1_000_000_000_000_000
        if milliseconds == 0 { return "\(seconds) s" }
        var fraction = String(milliseconds + 1000).dropFirst()
        while fraction.hasSuffix("0") { fraction = fraction.dropLast() }
        return "\(seconds).\(fraction) s"
    }
}
