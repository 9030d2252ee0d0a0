public import AMQPWire
import EmailContracts
import Foundation
import HTTPServer
import Mail
import Messaging
public import Observability
import ServiceSupport

/// The `email-service` process: parse the configuration, connect (waiting for the broker),
/// consume until SIGTERM/SIGINT, drain, exit 0. Invalid configuration exits 2.
public enum EmailServiceApp {
    public static let summary = """
        email-service: takes SendEmail commands and DeliverEmail calls from RabbitMQ and delivers the \
        emails (console, SMTP or Maildir), publishing EmailSent and EmailFailed events.
        """

    /// Runs the service with the process's arguments and environment; returns the exit status.
    public static func main(arguments: [String], environment: [String: String]) async -> Int32 {
        let options: ParsedOptions
        let configuration: EmailServiceConfiguration
        do {
            options = try CommandLineParser.parse(
                arguments, environment: environment, specs: EmailServiceConfiguration.specs)
            if options.helpRequested {
                print(
                    CommandLineParser.usage(
                        command: "email-service", summary: summary, specs: EmailServiceConfiguration.specs))
                return 0
            }
            configuration = try EmailServiceConfiguration.parse(options)
        } catch {
            FileHandle.standardError.write(Data("email-service: \(error.message)\n".utf8))
            return 2
        }
        let logger = Logger(label: "email-service", level: configuration.logLevel)
        do {
            try await runUntilSignalled { try await run(configuration, logger: logger) }
            logger.info("stopped")
            return 0
        } catch is CancellationError {
            logger.info("stopped")
            return 0
        } catch {
            logger.critical("the service failed: \(error)")
            return 1
        }
    }

    /// Connects, retrying while the broker is unreachable (a restart or a container starting
    /// after the broker), until cancelled.
    public static func connect(
        _ configuration: AMQPConnectionConfiguration, logger: Logger
    ) async throws -> AMQPConnection {
        var pause = RetryPause()
        while true {
            do {
                return try await AMQPConnection.connect(configuration)
            } catch let error as AMQPError
                where error.code == .connectFailed || error.code == .connectTimeout || error.code == .ioError
            {
                logger.warning(
                    "the broker is not reachable yet; retrying",
                    metadata: ["broker": BrokerSettings.describe(configuration), "error": error.message])
                try await pause.wait()
            }
        }
    }

    static func run(_ configuration: EmailServiceConfiguration, logger: Logger) async throws {
        let metrics = MetricsRegistry()
        logger.info(
            "starting",
            metadata: [
                "broker": BrokerSettings.describe(configuration.broker), "queue": configuration.queue,
                "format": configuration.wireFormat, "transport": configuration.transport.rawValue,
            ])
        let connection = try await connect(configuration.broker, logger: logger)
        if configuration.replayErrors {
            let result = try await ErrorQueue.replay(
                Topology.errorQueue(for: configuration.queue), connection: connection)
            logger.notice(
                "replayed the error queue",
                metadata: ["replayed": "\(result.replayed)", "skipped": "\(result.skipped)"])
            try await connection.close()
            return
        }
        let journal = try DeliveryJournal(path: configuration.journalPath)
        let service = try await MessagingService.start(
            connection: connection,
            configuration: .init(
                name: EmailContracts.EmailService.name, concurrency: configuration.concurrency,
                retry: configuration.retry, queueKind: configuration.queueKind, commandQueue: configuration.queue,
                format: configuration.format),
            logger: logger, metrics: metrics)
        let deliverer = EmailDeliverer(
            transport: configuration.makeTransport(logger: logger.labelled("email-service.transport")),
            journal: journal, sender: configuration.sender, events: service.bus, metrics: metrics)
        deliverer.register(on: service, queue: configuration.queue, format: configuration.format)
        defer { Task { try? await connection.close() } }
        guard let port = configuration.httpPort else {
            try await service.run()
            return
        }
        let http = try HTTPServer(
            configuration: .init(host: configuration.httpHost, port: port, serverName: "email-service"),
            logger: logger.labelled("email-service.http"), metrics: metrics,
            router: statusRoutes(connection: connection, metrics: metrics))
        logger.info("serving /health and /metrics", metadata: ["url": "http://\(configuration.httpHost):\(http.port)/"])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            group.addTask { try await http.run() }
            try await group.next()
            group.cancelAll()
            try await group.waitForAll()
        }
    }

    /// `/health/live`, `/health/ready` (the broker connection is open) and `/metrics`.
    static func statusRoutes(connection: AMQPConnection, metrics: MetricsRegistry) -> Router {
        var router = Router()
        router.get("/health/live") { _ in .text("alive\n") }
        router.get("/health/ready") { _ in
            connection.isOpen
                ? .text("ready\n") : .text("not ready: the broker connection is down\n", status: .serviceUnavailable)
        }
        router.get("/metrics") { _ in
            HTTPResponse(
                status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                body: Array(metrics.prometheusText().utf8))
        }
        return router
    }
}
