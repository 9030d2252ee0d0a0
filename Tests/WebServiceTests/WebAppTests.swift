import EmailContracts
import Foundation
import HTTPServer
import Observability
import Testing
import WebServiceCore

@Suite struct WebAppTests {
    static func app() throws -> WebApp {
        WebApp(
            outbox: try Outbox(path: NSTemporaryDirectory() + "webapp-\(UUID().uuidString)/outbox.log"),
            metrics: MetricsRegistry(), logger: Logger(label: "test", level: .critical))
    }

    static func json(_ method: HTTPMethod, _ target: String, _ body: String, type: String = "application/json")
        -> HTTPRequest
    {
        HTTPRequest(method: method, target: target, headers: ["Content-Type": type], body: Array(body.utf8))
    }

    @Test func anAcceptedEmailIsStoredBeforeThe202AndReadableById() async throws {
        let app = try Self.app()
        let response = try await app.router.respond(
            to: Self.json(.post, "/api/emails", #"{"subject":"Hi","body":"Hello","recipient":"ann@example.com"}"#))
        #expect(response.status == .accepted)
        let created = try JSONDecoder.iso.decode(EmailResource.self, from: Data(response.body))
        #expect(response.headers["Location"] == "/api/emails/\(created.id)")
        #expect(app.outbox.pendingCount == 1)
        let fetched = try await app.router.respond(to: HTTPRequest(method: .get, target: "/api/emails/\(created.id)"))
        #expect(fetched.status == .ok)
        #expect(try JSONDecoder.iso.decode(EmailResource.self, from: Data(fetched.body)) == created)
        let missing = try await app.router.respond(to: HTTPRequest(method: .get, target: "/api/emails/nope"))
        #expect(missing.status == .notFound)
    }

    @Test func invalidFieldsAre422WithEveryFieldAndNothingIsStored() async throws {
        let app = try Self.app()
        let response = try await app.router.respond(
            to: Self.json(.post, "/api/emails", #"{"subject":"","body":"x","recipient":"nope"}"#))
        #expect(response.status == .unprocessableContent)
        let error = try JSONDecoder().decode(APIError.self, from: Data(response.body))
        #expect(error.fields?.keys.sorted() == ["recipient", "subject"])
        #expect(app.outbox.pendingCount == 0)
    }

    @Test(arguments: [
        ("{not json", "application/json", 400), (#"{"subject":1}"#, "application/json", 400),
        (#"{"subject":"a","body":"b","recipient":"c@d.e"}"#, "text/plain", 415),
    ])
    func unreadableBodiesAreRefused(body: String, type: String, status: Int) async throws {
        let app = try Self.app()
        let response = try await app.router.respond(to: Self.json(.post, "/api/emails", body, type: type))
        #expect(response.status.code == status)
        #expect(app.outbox.pendingCount == 0)
    }

    @Test func theFormNeedsItsCSRFTokenAndRedirectsToTheSuccessMessage() async throws {
        let app = try Self.app()
        let page = try await app.router.respond(to: HTTPRequest(method: .get, target: "/"))
        let cookie = try #require(page.headers["Set-Cookie"])
        let token = try #require(CSRF.token(fromCookieHeader: String(cookie.prefix { $0 != ";" })))
        let form = "subject=Hi&body=Hello&recipient=ann%40example.com"

        let forged = try await app.router.respond(
            to: Self.json(.post, "/", form, type: "application/x-www-form-urlencoded"))
        #expect(forged.status == .forbidden)
        #expect(app.outbox.pendingCount == 0)

        var request = Self.json(.post, "/", form + "&csrf_token=\(token)", type: "application/x-www-form-urlencoded")
        request.headers["Cookie"] = "csrf=\(token)"
        let posted = try await app.router.respond(to: request)
        #expect(posted.status == .seeOther)
        let location = try #require(posted.headers["Location"])
        var follow = HTTPRequest(method: .get, target: location)
        follow.headers["Cookie"] = "csrf=\(token)"
        let shown = String(decoding: try await app.router.respond(to: follow).body, as: UTF8.self)
        #expect(shown.contains("You have successfully sent an email to ann@example.com"))
        #expect(shown.contains("<td>ann@example.com</td><td>Hi</td>"))
    }

    @Test func readinessFollowsTheBrokerAndTheOpenAPIDocumentIsServed() async throws {
        let app = try Self.app()
        #expect(try await app.router.respond(to: HTTPRequest(method: .get, target: "/health/ready")).status.code == 503)
        app.isBrokerReady = true
        #expect(try await app.router.respond(to: HTTPRequest(method: .get, target: "/health/ready")).status == .ok)
        #expect(try await app.router.respond(to: HTTPRequest(method: .get, target: "/health/live")).status == .ok)
        let metrics = try await app.router.respond(to: HTTPRequest(method: .get, target: "/metrics"))
        #expect(String(decoding: metrics.body, as: UTF8.self).contains("web_broker_ready 1"))
        let docs = try await app.router.respond(to: HTTPRequest(method: .get, target: "/docs"))
        #expect(String(decoding: docs.body, as: UTF8.self).contains("POST /api/emails"))
    }

    /// Every operation in /openapi.json exists with the documented responses, and every API
    /// route is documented: requests that should produce each documented status do.
    @Test func theOpenAPIDocumentMatchesTheRealAPI() async throws {
        let app = try Self.app()
        let served = try await app.router.respond(to: HTTPRequest(method: .get, target: "/openapi.json"))
        let document = try #require(try JSONSerialization.jsonObject(with: Data(served.body)) as? [String: Any])
        #expect(document["openapi"] as? String == "3.1.0")
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        #expect(Set(paths.keys) == ["/api/emails", "/api/emails/{id}", "/health/live", "/health/ready", "/metrics"])
        func documented(_ path: String, _ method: String) -> Set<Int> {
            let operation = paths[path]?[method] as? [String: Any]
            return Set(((operation?["responses"] as? [String: Any]) ?? [:]).keys.compactMap { Int($0) })
        }
        var seen: [String: Set<Int>] = [:]
        func check(_ path: String, _ method: String, _ request: HTTPRequest) async throws {
            let status = try await app.router.respond(to: request).status.code
            #expect(documented(path, method).contains(status), "\(method) \(path) answered \(status), not documented")
            seen["\(method) \(path)", default: []].insert(status)
        }
        let valid = #"{"subject":"a","body":"b","recipient":"c@example.com"}"#
        try await check("/api/emails", "post", Self.json(.post, "/api/emails", valid))
        try await check("/api/emails", "post", Self.json(.post, "/api/emails", "[]"))
        try await check("/api/emails", "post", Self.json(.post, "/api/emails", valid, type: "text/plain"))
        try await check(
            "/api/emails", "post", Self.json(.post, "/api/emails", #"{"subject":"","body":"","recipient":""}"#))
        let id = app.outbox.recent().first?.id ?? ""
        try await check("/api/emails/{id}", "get", HTTPRequest(method: .get, target: "/api/emails/\(id)"))
        try await check("/api/emails/{id}", "get", HTTPRequest(method: .get, target: "/api/emails/unknown"))
        try await check("/health/live", "get", HTTPRequest(method: .get, target: "/health/live"))
        try await check("/health/ready", "get", HTTPRequest(method: .get, target: "/health/ready"))
        app.isBrokerReady = true
        try await check("/health/ready", "get", HTTPRequest(method: .get, target: "/health/ready"))
        try await check("/metrics", "get", HTTPRequest(method: .get, target: "/metrics"))
        // Every documented status was produced by some request.
        for (path, operations) in paths {
            for method in operations.keys {
                #expect(seen["\(method) \(path)"] == documented(path, method), "\(method) \(path)")
            }
        }
    }
}

extension JSONDecoder {
    static var iso: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }
}
