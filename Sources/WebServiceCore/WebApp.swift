import EmailContracts
import Foundation
public import HTTPServer
import Mail
import Messaging
public import Observability
import Synchronization

/// The web service's pages and API over its outbox. Pure request → response functions plus the
/// readiness flag the broker connection sets; no socket in here, so tests call it directly.
public final class WebApp: Sendable {
    public let outbox: Outbox
    public let metrics: MetricsRegistry
    public let logger: Logger
    private let brokerReady = Mutex(false)

    public init(outbox: Outbox, metrics: MetricsRegistry, logger: Logger) {
        self.outbox = outbox
        self.metrics = metrics
        self.logger = logger
    }

    /// Set by the broker connection loop.
    public var isBrokerReady: Bool {
        get { brokerReady.withLock { $0 } }
        set { brokerReady.withLock { $0 = newValue } }
    }

    public var router: Router {
        var router = Router()
        router.get("/") { [self] request in formPage(request) }
        router.post("/") { [self] request in try submitForm(request) }
        router.post("/api/emails") { [self] request in try createEmail(request) }
        router.get("/api/emails/{id}") { [self] request in getEmail(request) }
        router.get("/openapi.json") { _ in
            HTTPResponse(
                status: .ok, headers: ["Content-Type": "application/json"], body: Array(OpenAPIDocument.json.utf8))
        }
        router.get("/docs") { _ in .html(DocsPage.render()) }
        router.get("/health/live") { _ in .text("alive\n") }
        router.get("/health/ready") { [self] _ in
            isBrokerReady
                ? .text("ready\n")
                : .text(
                    "not ready: the broker is unreachable; \(outbox.pendingCount) email(s) wait in the outbox\n",
                    status: .serviceUnavailable)
        }
        router.get("/metrics") { [self] _ in
            metrics.gauge("web_outbox_pending", help: "Emails accepted and not yet confirmed by the broker")
                .set(Double(outbox.pendingCount))
            metrics.gauge("web_broker_ready", help: "1 when the broker connection is up").set(isBrokerReady ? 1 : 0)
            return HTTPResponse(
                status: .ok, headers: ["Content-Type": "text/plain; version=0.0.4; charset=utf-8"],
                body: Array(metrics.prometheusText().utf8))
        }
        return router
    }

    // MARK: The form

    static func checkAddress(_ text: String) -> String? {
        do {
            _ = try EmailAddress(text)
            return nil
        } catch {
            return error.message
        }
    }

    private func formPage(_ request: HTTPRequest) -> HTTPResponse {
        let (token, setCookie) = csrfToken(for: request)
        var success: String?
        if let sent = try? request.queryItems().values(for: "sent").first, let entry = outbox.entry(sent) {
            success = FormPage.successMessage(recipient: entry.command.recipient)
        }
        var response = HTTPResponse.html(
            FormPage.render(success: success, csrfToken: token, recent: outbox.recent()))
        if setCookie { response.headers["Set-Cookie"] = CSRF.cookie(token) }
        response.headers["Cache-Control"] = "no-store"
        return response
    }

    private func submitForm(_ request: HTTPRequest) throws -> HTTPResponse {
        let form = try request.formBody()
        let cookie = CSRF.token(fromCookieHeader: request.headers["Cookie"])
        guard CSRF.isValid(formToken: form.values(for: CSRF.fieldName).first, cookieToken: cookie) else {
            count("forbidden")
            return .html(
                "<!doctype html><title>Form expired</title><p>The form expired or did not come from this site. <a href=\"/\">Reload it</a> and send again.</p>",
                status: .forbidden)
        }
        let input = EmailForm(
            subject: form.values(for: "subject").first ?? "", body: form.values(for: "body").first ?? "",
            recipient: form.values(for: "recipient").first ?? "")
        switch input.validated(checkAddress: Self.checkAddress) {
        case .failure(let errors):
            count("invalid")
            var response = HTTPResponse.html(
                FormPage.render(
                    form: input, errors: errors.fields, csrfToken: cookie ?? CSRF.newToken(), recent: outbox.recent()),
                status: .unprocessableContent)
            response.headers["Cache-Control"] = "no-store"
            return response
        case .success(let command):
            let entry = try accept(command)
            // Post/Redirect/Get: reloading the page does not send the email again.
            return .redirect(to: "/?sent=\(entry.id)")
        }
    }

    private func csrfToken(for request: HTTPRequest) -> (String, Bool) {
        if let token = CSRF.token(fromCookieHeader: request.headers["Cookie"]), token.utf8.count == 64,
            token.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
        {
            return (token, false)
        }
        return (CSRF.newToken(), true)
    }

    // MARK: The API

    private func createEmail(_ request: HTTPRequest) throws -> HTTPResponse {
        let contentType = request.headers["Content-Type"]?.lowercased() ?? ""
        guard contentType.hasPrefix("application/json") else {
            return try .json(APIError(error: "send the email as application/json"), status: .unsupportedMediaType)
        }
        let input: EmailForm
        do {
            input = try JSONDecoder().decode(EmailForm.self, from: Data(request.body))
        } catch {
            count("invalid")
            return try .json(
                APIError(error: "the body must be a JSON object with subject, body and recipient strings"),
                status: .badRequest)
        }
        switch input.validated(checkAddress: Self.checkAddress) {
        case .failure(let errors):
            count("invalid")
            return try .json(APIError(error: "invalid email", fields: errors.fields), status: .unprocessableContent)
        case .success(let command):
            let entry = try accept(command)
            var response = try HTTPResponse.json(EmailResource(entry), status: .accepted, encoder: Self.encoder)
            response.headers["Location"] = "/api/emails/\(entry.id)"
            return response
        }
    }

    private func getEmail(_ request: HTTPRequest) -> HTTPResponse {
        guard let id = request.pathParameters["id"], let entry = outbox.entry(id) else {
            return (try? .json(APIError(error: "no such email"), status: .notFound))
                ?? .text("no such email", status: .notFound)
        }
        return (try? .json(EmailResource(entry), encoder: Self.encoder)) ?? .text("error", status: .internalServerError)
    }

    private func accept(_ command: SendEmail) throws -> Outbox.Entry {
        let entry = try outbox.accept(command)
        count("accepted")
        logger.info("accepted", metadata: ["email-id": entry.id, "recipient": command.recipient])
        return entry
    }

    private func count(_ outcome: String) {
        metrics.counter("web_emails_total", help: "Emails submitted, by outcome", labels: ["outcome": outcome])
            .increment()
    }

    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }
}
