#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A user name and password for SMTP AUTH (PLAIN or LOGIN).
///
/// There is no TLS in this project: the password crosses the network in base64, which anyone on
/// the path can read. Use credentials only with a relay on a trusted network or the same host.
/// The password never appears in `description`, `debugDescription` or logs.
public struct SMTPCredentials: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "\(username) (password hidden)" }
    public var debugDescription: String { description }
}

/// How long each step of an SMTP session may take. The defaults are RFC 5321 section 4.5.3.2's
/// recommendations, meant for the public mail system; a service talking to a local relay can
/// use much shorter ones.
///
/// A timeout is a transient failure (``SMTPError/isTransient``). One after the final `.` has been
/// sent leaves the delivery in doubt: the server may have accepted the message (RFC 5321 section
/// 6.1 explains why the DATA termination timeout is long).
public struct SMTPTimeouts: Sendable, Hashable {
    /// Resolving the host and opening the connection. Default 30 seconds.
    public var connect: Duration
    /// Waiting for the 220 greeting. Default 5 minutes.
    public var greeting: Duration
    /// Sending a command and reading its reply: EHLO, HELO, AUTH, MAIL FROM, RCPT TO. Default 5
    /// minutes.
    public var command: Duration
    /// Sending DATA and reading the 354. Default 2 minutes.
    public var dataInitiation: Duration
    /// Sending each block of the message (64 KiB). Default 3 minutes.
    public var dataBlock: Duration
    /// Waiting for the reply after the final `.`. Default 10 minutes.
    public var dataTermination: Duration
    /// Sending QUIT and reading its reply; a failure here is logged, not thrown. Default 10
    /// seconds.
    public var quit: Duration

    public init(
        connect: Duration = .seconds(30), greeting: Duration = .seconds(300), command: Duration = .seconds(300),
        dataInitiation: Duration = .seconds(120), dataBlock: Duration = .seconds(180),
        dataTermination: Duration = .seconds(600), quit: Duration = .seconds(10)
    ) {
        self.connect = connect
        self.greeting = greeting
        self.command = command
        self.dataInitiation = dataInitiation
        self.dataBlock = dataBlock
        self.dataTermination = dataTermination
        self.quit = quit
    }

    /// Every step bounded by `duration` (handy in tests and for a local relay).
    public static func all(_ duration: Duration) -> SMTPTimeouts {
        SMTPTimeouts(
            connect: duration, greeting: duration, command: duration, dataInitiation: duration,
            dataBlock: duration, dataTermination: duration, quit: duration)
    }
}

/// Where and how an ``SMTPClient`` delivers.
public struct SMTPConfiguration: Sendable, Hashable {
    /// The server's host name or IP address.
    public var host: String
    /// Default 25. (465 and 587 usually require TLS, which this client does not speak.)
    public var port: Int
    /// The name this client gives in EHLO/HELO: a fully qualified host name or an address literal
    /// such as `[192.0.2.1]`. Default: this machine's host name, or `localhost`.
    public var heloName: String
    /// Sent with AUTH PLAIN (preferred) or AUTH LOGIN when set. If the server offers neither,
    /// delivery fails with ``SMTPError/Code/authenticationUnavailable`` rather than send them
    /// some other way. Without TLS they cross the network readable: see ``SMTPCredentials``.
    public var credentials: SMTPCredentials?
    public var timeouts: SMTPTimeouts
    /// The longest reply line accepted, without CRLF. Default 2048 (RFC 5321 allows 512 with
    /// CRLF; some servers send more).
    public var maximumReplyLineLength: Int
    /// The most lines in one reply. Default 128 (an EHLO reply has a dozen or two).
    public var maximumReplyLines: Int

    public init(
        host: String, port: Int = 25, heloName: String = SMTPConfiguration.defaultHeloName,
        credentials: SMTPCredentials? = nil, timeouts: SMTPTimeouts = SMTPTimeouts(),
        maximumReplyLineLength: Int = 2048, maximumReplyLines: Int = 128
    ) {
        self.host = host
        self.port = port
        self.heloName = heloName
        self.credentials = credentials
        self.timeouts = timeouts
        self.maximumReplyLineLength = maximumReplyLineLength
        self.maximumReplyLines = maximumReplyLines
    }

    /// This machine's host name if it is a valid domain, else `localhost`.
    public static var defaultHeloName: String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count - 1) == 0 else { return "localhost" }
        let host = String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return AddressParser.isValidDomain(host) ? host : "localhost"
    }
}
