public import AMQPWire
import EmailContracts
import Foundation
import HTTPServer
public import Messaging
public import Observability
public import ServiceSupport

/// Everything `web-service` can be told (`--help`).
public struct WebServiceConfiguration: Sendable {
    public var broker: AMQPConnectionConfiguration
    public var host: String
    public var port: Int
    public var outboxPath: String
    public var emailQueue: String?
    public var wireFormat: String
    public var maxConnections: Int
    public var queueKind: QueueKind
    public var logLevel: LogLevel

    public static let specs: [OptionSpec] =
        BrokerSettings.specs + [
            OptionSpec("port", environment: ["WEB_PORT", "PORT"], help: "HTTP port.", defaultValue: "8080"),
            OptionSpec(
                "host", environment: ["WEB_HOST"], help: "Address to listen on (0.0.0.0 for every interface).",
                defaultValue: "127.0.0.1"),
            OptionSpec(
                "outbox", environment: ["WEB_OUTBOX"],
                help: "The durable outbox file (emails accepted but not yet confirmed by the broker).",
                defaultValue: ".state/web-service/outbox.log"),
            OptionSpec(
                "email-queue", environment: ["EMAILME_EMAILSERVICE_QUEUE"],
                help: "The email service's command queue (the tutorial's variable); default: the email service's own."),
            OptionSpec(
                "wire-format", environment: ["EMAIL_WIRE_FORMAT"],
                help: "native, or pymessagingframework to talk to the tutorial's Python email service.",
                defaultValue: "native"),
            OptionSpec(
                "max-connections", environment: ["WEB_MAX_CONNECTIONS"], help: "Open HTTP connections at most.",
                defaultValue: "512"),
            OptionSpec(
                "queue-type", environment: ["WEB_QUEUE_TYPE"],
                help: "classic or quorum (for a cluster), for the queues the service follows email events on.",
                defaultValue: "classic"),
            .logLevel,
        ]

    public static func parse(_ options: ParsedOptions) throws(ConfigurationError) -> WebServiceConfiguration {
        let broker = try BrokerSettings.configuration(from: options, connectionName: "web-service")
        let port = try options.integer("port", in: 0...65535) ?? 8080
        let host = options["host"] ?? "127.0.0.1"
        guard !host.isEmpty, !host.contains(" ") else {
            throw ConfigurationError("\(options.source("host")) is not an address: '\(host)'")
        }
        let format = try options.choice("wire-format", EmailWireFormat.names) ?? "native"
        let maxConnections = try options.integer("max-connections", in: 1...100_000) ?? 512
        let kind = try options.choice("queue-type", ["classic", "quorum"]) ?? "classic"
        let level = try options.logLevel()
        let emailQueue = try options.queueName("email-queue")
        return WebServiceConfiguration(
            broker: broker, host: host, port: port, outboxPath: options["outbox"] ?? "outbox.log",
            emailQueue: emailQueue, wireFormat: format, maxConnections: maxConnections,
            queueKind: QueueKind(rawValue: kind) ?? .classic, logLevel: level)
    }

    var format: any WireFormat {
        EmailWireFormat.named(wireFormat)
    }
}

/// The `web-service` process.
public enum WebServiceApp {
    public static let summary = """
        web-service: the web front end. A form and a JSON API accept emails, store them in a durable \
        outbox, and send them to the email service through RabbitMQ, showing their delivery status.
        """

    public static func main(arguments: [String], environment: [String: String]) async -> Int32 {
        let configuration: WebServiceConfiguration
        do {
            let options = try CommandLineParser.parse(
                arguments, environment: environment, specs: WebServiceConfiguration.specs)
            if options.helpRequested {
                print(
                    CommandLineParser.usage(
                        command: "web-service", summary: summary, specs: WebServiceConfiguration.specs))
                return 0
            }
            configuration = try WebServiceConfiguration.parse(options)
        } catch {
            FileHandle.standardError.write(Data("web-service: \(error.message)\n".utf8))
            return 2
        }
        let logger = Logger(label: "web-service", level: configuration.logLevel)
        let metrics = MetricsRegistry()
        let outbox: Outbox
        let server: HTTPServer
        let app: WebApp
        do {
            outbox = try Outbox(path: configuration.outboxPath)
            app = WebApp(outbox: outbox, metrics: metrics, logger: logger)
            server = try HTTPServer(
                configuration: .init(
                    host: configuration.host, port: configuration.port, maxConnections: configuration.maxConnections,
                    serverName: "web-service"),
                logger: logger.labelled("web-service.http"), metrics: metrics, router: app.router)
        } catch let error as HTTPServerError {
            FileHandle.standardError.write(
                Data(
                    "web-service: cannot listen on \(configuration.host):\(configuration.port): \(error.message)\n".utf8
                ))
            return 2
        } catch {
            FileHandle.standardError.write(Data("web-service: \(error)\n".utf8))
            return 1
        }
        logger.info(
            "listening",
            metadata: ["url": "http://\(configuration.host):\(server.port)/", "outbox": configuration.outboxPath])
        do {
            try await runUntilSignalled {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await server.run() }
                    group.addTask { await brokerLoop(configuration, app: app, logger: logger, metrics: metrics) }
                    // The server returns when cancelled (drained); then stop the broker side too.
                    try await group.next()
                    group.cancelAll()
                }
            }
        } catch is CancellationError {
        } catch {
            logger.critical("the service failed: \(error)")
            return 1
        }
        logger.info("stopped", metadata: ["outbox-pending": String(outbox.pendingCount)])
        return 0
    }

    /// Connects (retrying while the broker is away), publishes the outbox, follows the email
    /// service's events, and reconnects when the connection is lost for good; until cancelled.
    static func brokerLoop(
        _ configuration: WebServiceConfiguration, app: WebApp, logger: Logger, metrics: MetricsRegistry
    ) async {
        var pause = RetryPause()
        while !Task.isCancelled {
            do {
                let connection = try await AMQPConnection.connect(configuration.broker)
                pause.reset()
                logger.info(
                    "connected to the broker", metadata: ["broker": BrokerSettings.describe(configuration.broker)])
                try await serve(connection, configuration: configuration, app: app, logger: logger, metrics: metrics)
                try? await connection.close()
            } catch is CancellationError {
                break
            } catch {
                app.isBrokerReady = false
                logger.warning(
                    "the broker is unreachable; emails wait in the outbox",
                    metadata: ["error": "\(error)", "pending": String(app.outbox.pendingCount)])
                try? await pause.wait()
            }
        }
        app.isBrokerReady = false
    }

    private static func serve(
        _ connection: AMQPConnection, configuration: WebServiceConfiguration, app: WebApp, logger: Logger,
        metrics: MetricsRegistry
    ) async throws {
        let bus = try await MessageBus.start(
            connection: connection, serviceName: "web-service", logger: logger, metrics: metrics)
        let format = configuration.format
        let queue = configuration.emailQueue
        try await withThrowingTaskGroup(of: Void.self) { group in
            // Publishing the outbox does not wait for, or depend on, following the events.
            group.addTask {
                await app.outbox.run(
                    send: { entry in
                        try await bus.send(
                            entry.command, queue: queue, format: format,
                            metadata: MessageMetadata(messageID: entry.id, messageType: SendEmail.messageType))
                        logger.info("published", metadata: ["email-id": entry.id])
                    },
                    onFailure: { error in
                        logger.warning("could not publish; will retry", metadata: ["error": "\(error)"])
                    })
            }
            group.addTask {
                await followEvents(connection, configuration: configuration, app: app, logger: logger, metrics: metrics)
            }
            group.addTask {
                // Readiness follows the connection; a connection that ended for good ends serve().
                while !Task.isCancelled {
                    app.isBrokerReady = connection.isOpen
                    if connection.closeReason != nil {
                        throw MessagingError(.notRunning, "the broker connection closed")
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// Updates the outbox from EmailSent and EmailFailed; retries on its own when the subscription
    /// fails (a queue whose node is down), without holding up publishing.
    private static func followEvents(
        _ connection: AMQPConnection, configuration: WebServiceConfiguration, app: WebApp, logger: Logger,
        metrics: MetricsRegistry
    ) async {
        while !Task.isCancelled {
            do {
                let service = try await MessagingService.start(
                    connection: connection,
                    configuration: .init(name: "web-service", queueKind: configuration.queueKind),
                    logger: logger, metrics: metrics)
                service.subscribe(to: EmailSent.self) { event, _ in
                    try app.outbox.update(event.commandID, status: .sent)
                }
                service.subscribe(to: EmailFailed.self) { event, _ in
                    try app.outbox.update(event.commandID, status: .failed, detail: event.reason)
                }
                try await service.run()
                return
            } catch is CancellationError {
                return
            } catch {
                logger.warning("cannot follow the email events yet; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .seconds(2))
            }
        }
    }
}
