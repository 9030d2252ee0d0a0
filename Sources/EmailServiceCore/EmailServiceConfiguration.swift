public import AMQPWire
import EmailContracts
import Foundation
public import Mail
public import Messaging
public import Observability
public import ServiceSupport

/// Everything `email-service` can be told, from flags and the environment (`--help` lists it).
public struct EmailServiceConfiguration: Sendable {
    public enum TransportKind: String, Sendable { case console, smtp, maildir }

    public var broker: AMQPConnectionConfiguration
    public var queue: String
    public var wireFormat: String
    public var queueKind: QueueKind
    public var concurrency: Int
    public var retry: RetryPolicy
    public var transport: TransportKind
    public var smtp: SMTPConfiguration?
    public var maildir: String?
    public var sender: String
    public var journalPath: String
    public var httpPort: Int?
    public var httpHost: String
    public var logLevel: LogLevel
    public var replayErrors: Bool

    public static let specs: [OptionSpec] =
        BrokerSettings.specs + [
            OptionSpec(
                "queue", environment: ["EMAILME_EMAILSERVICE_QUEUE"],
                help: "The command queue (the tutorial's variable).", defaultValue: EmailService.name),
            OptionSpec(
                "wire-format", environment: ["EMAIL_WIRE_FORMAT"],
                help:
                    "Format of the command queue: native, or pymessagingframework to take the tutorial's Python web service's commands.",
                defaultValue: "native"),
            OptionSpec(
                "queue-type", environment: ["EMAIL_QUEUE_TYPE"], help: "classic or quorum (for a cluster).",
                defaultValue: "classic"),
            OptionSpec(
                "concurrency", environment: ["EMAIL_CONCURRENCY"], help: "Emails sent at once (and the prefetch).",
                defaultValue: "8"),
            OptionSpec(
                "retry-delays", environment: ["EMAIL_RETRY_DELAYS"],
                help: "Delayed retries after a temporary failure, in seconds, comma-separated.",
                defaultValue: "5,30,120"),
            OptionSpec(
                "transport", environment: ["EMAIL_TRANSPORT"],
                help: "console (print, like the tutorial), smtp or maildir.",
                defaultValue: "console"),
            OptionSpec("smtp-host", environment: ["SMTP_HOST"], help: "SMTP server host.", defaultValue: "localhost"),
            OptionSpec("smtp-port", environment: ["SMTP_PORT"], help: "SMTP server port.", defaultValue: "25"),
            OptionSpec("smtp-username", environment: ["SMTP_USERNAME"], help: "SMTP AUTH user (optional)."),
            OptionSpec(
                "smtp-password", environment: ["SMTP_PASSWORD"], help: "SMTP AUTH password (optional).", isSecret: true),
            OptionSpec(
                "smtp-timeout", environment: ["SMTP_TIMEOUT"], help: "Seconds allowed for each SMTP step.",
                defaultValue: "30"),
            OptionSpec("maildir", environment: ["EMAIL_MAILDIR"], help: "Maildir folder for the maildir transport."),
            OptionSpec(
                "from", environment: ["EMAIL_FROM"], help: "The sender address of every email.",
                defaultValue: "email-service@localhost"),
            OptionSpec(
                "journal", environment: ["EMAIL_JOURNAL"],
                help: "File of delivered command ids (no duplicates after redelivery or restart); one per instance.",
                defaultValue: ".state/email-service/delivered.log"),
            OptionSpec(
                "http-port", environment: ["EMAIL_HTTP_PORT"],
                help: "Serve /health and /metrics on this port (0 or unset: off)."),
            OptionSpec(
                "http-host", environment: ["EMAIL_HTTP_HOST"], help: "Address for --http-port.",
                defaultValue: "127.0.0.1"),
            .logLevel,
            OptionSpec(
                "replay-errors", help: "Move the error queue's messages back to the command queue, then exit.",
                isSwitch: true),
        ]

    public static func parse(_ options: ParsedOptions) throws(ConfigurationError) -> EmailServiceConfiguration {
        let broker = try BrokerSettings.configuration(from: options, connectionName: "email-service")
        let queue = try options.queueName("queue") ?? EmailService.name
        let format = try options.choice("wire-format", EmailWireFormat.names) ?? "native"
        let kind = try options.choice("queue-type", ["classic", "quorum"]) ?? "classic"
        let concurrency = try options.integer("concurrency", in: 1...1000) ?? 8
        var delays: [Duration] = []
        for part in (options["retry-delays"] ?? "").split(separator: ",") {
            guard let seconds = Double(part.trimmingCharacters(in: .whitespaces)), seconds > 0, seconds <= 86_400 else {
                throw ConfigurationError(
                    "\(options.source("retry-delays")) must be seconds from 0 to 86400, comma-separated, not '\(options["retry-delays"] ?? "")'"
                )
            }
            delays.append(.milliseconds(Int(seconds * 1000)))
        }
        let transport =
            TransportKind(rawValue: try options.choice("transport", ["console", "smtp", "maildir"]) ?? "console")
            ?? .console
        var smtp: SMTPConfiguration?
        if transport == .smtp {
            let host = options["smtp-host"] ?? "localhost"
            let port = try options.integer("smtp-port", in: 1...65535) ?? 25
            let timeout = try options.integer("smtp-timeout", in: 1...3600) ?? 30
            var credentials: SMTPCredentials?
            switch (options["smtp-username"], options["smtp-password"]) {
            case (let user?, let password?): credentials = SMTPCredentials(username: user, password: password)
            case (nil, nil): credentials = nil
            default: throw ConfigurationError("--smtp-username and --smtp-password go together")
            }
            smtp = SMTPConfiguration(
                host: host, port: port, credentials: credentials, timeouts: .all(.seconds(timeout)))
        }
        let maildir = options["maildir"]
        if transport == .maildir && (maildir ?? "").isEmpty {
            throw ConfigurationError("--transport maildir needs --maildir FOLDER (or $EMAIL_MAILDIR)")
        }
        let sender = options["from"] ?? "email-service@localhost"
        do {
            _ = try EmailAddress(sender)
        } catch {
            throw ConfigurationError("\(options.source("from")) is not a usable sender address: \(error.message)")
        }
        let httpPort = try options.integer("http-port", in: 0...65535)
        let level = try options.logLevel()
        return EmailServiceConfiguration(
            broker: broker, queue: queue, wireFormat: format, queueKind: QueueKind(rawValue: kind) ?? .classic,
            concurrency: concurrency, retry: RetryPolicy(immediateRetries: 1, delays: delays), transport: transport,
            smtp: smtp, maildir: maildir, sender: sender, journalPath: options["journal"] ?? "delivered.log",
            httpPort: httpPort == 0 ? nil : httpPort, httpHost: options["http-host"] ?? "127.0.0.1", logLevel: level,
            replayErrors: options.flag("replay-errors"))
    }

    /// The transport the configuration names.
    public func makeTransport(logger: Logger) -> any MailTransport {
        switch transport {
        case .console: ConsoleTransport()
        case .smtp: SMTPTransport(configuration: smtp ?? SMTPConfiguration(host: "localhost"), logger: logger)
        case .maildir: MaildirTransport(directory: maildir ?? "Maildir", logger: logger)
        }
    }

    /// The wire format of the command queue.
    public var format: any WireFormat {
        EmailWireFormat.named(wireFormat)
    }
}
