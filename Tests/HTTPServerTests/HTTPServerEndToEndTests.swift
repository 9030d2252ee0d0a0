import Foundation
import Observability
import POSIXSockets
import Testing

@testable import HTTPServer

/// The server over real loopback sockets, driven by a raw client.
@Suite struct HTTPServerEndToEndTests {
    struct Secret: Error {
        var password = "hunter2"
    }

    static func router() -> Router {
        var router = Router()
        router.get("/hello") { _ in .text("hello") }
        router.post("/echo") { request in HTTPResponse(status: .ok, body: request.body) }
        router.get("/sleep/{ms}") { request in
            let ms = Int(request.pathParameters["ms"] ?? "") ?? 0
            try await Task.sleep(for: .milliseconds(ms))
            return .text(request.pathParameters["ms"] ?? "")
        }
        router.get("/fail") { _ in throw Secret() }
        router.post("/form") { request in
            let form = try request.formBody()
            return .text("to=\(form["to"] ?? "") subject=\(form["subject"] ?? "")")
        }
        router.get("/json") { _ in try .json(["status": "ok"]) }
        router.get("/big") { _ in .text(String(repeating: "b", count: 4096)) }
        return router
    }

    static let get = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            for _ in 0..<3 {
                try await client.send(Self.get)
                let response = try #require(try await client.readResponse())
                #expect(response.status == 200)
                #expect(response.text == "hello")
                #expect(response.header("connection") == nil)
                #expect(response.header("date")?.hasSuffix(" GMT") == true)
            }
            client.close()
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrderEvenWhenEarlierOnesAreSlower() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            let delays = [300, 0, 100, 0, 50]
            try await client.send(delays.map { "GET /sleep/\($0) HTTP/1.1\r\nHost: t\r\n\r\n" }.joined())
            for delay in delays {
                let response = try #require(try await client.readResponse())
                #expect(response.text == "\(delay)")
            }
            client.close()
        }
    }

    @Test func manyPipelinedRequestsWithLargeResponsesAllGetAnswered() async throws {
        // 200 responses of 4 KB are far more than the output the server buffers per connection:
        // it must stop parsing while the client is behind, and start again once it reads.
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send(String(repeating: "GET /big HTTP/1.1\r\nHost: t\r\n\r\n", count: 200))
            try await Task.sleep(for: .milliseconds(200))
            for _ in 0..<200 {
                #expect(try await client.readResponse()?.body.count == 4096)
            }
            client.close()
        }
    }

    @Test func clientThatShutsDownItsSideStillGetsEveryAnswer() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send(Self.get + "GET /sleep/100 HTTP/1.1\r\nHost: t\r\n\r\n")
            client.shutdownWrite()
            #expect(try await client.readResponse()?.text == "hello")
            #expect(try await client.readResponse()?.text == "100")
            #expect(try await client.readToEnd().isEmpty)
        }
    }

    @Test func expectContinueGetsA100BeforeTheBodyIsSent() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let interim = try await client.readBytes(ResponseWriter.continueResponse.count)
            #expect(interim == Array("HTTP/1.1 100 Continue\r\n\r\n".utf8))
            try await client.send("hello")
            let response = try #require(try await client.readResponse())
            #expect(response.text == "hello")
            client.close()
        }
    }

    @Test func oversizeBodyIs413BeforeTheClientSendsIt() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send(
                "POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\n\r\n")
            let response = try #require(try await client.readResponse())
            #expect(response.status == 413)
            #expect(response.header("connection") == "close")
            #expect(try await client.readToEnd().isEmpty)
        }
    }

    @Test func chunkedBodyArrivesWhole() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
            try await Task.sleep(for: .milliseconds(50))
            try await client.send("4;ext=1\r\ndefg\r\n0\r\nTrailer: x\r\n\r\n")
            #expect(try await client.readResponse()?.text == "abcdefg")
            client.close()
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n" + Self.get)
            let response = try #require(try await client.readResponse())
            #expect(response.header("connection") == "close")
            #expect(try await client.readToEnd().isEmpty)  // the pipelined second request is not answered
        }
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        try await withTestServer(router: Self.router()) { server in
            let plain = try await RawClient.connect(port: server.port)
            try await plain.send("GET /hello HTTP/1.0\r\n\r\n")
            #expect(try await plain.readResponse()?.header("connection") == "close")
            #expect(try await plain.readToEnd().isEmpty)

            let keepAlive = try await RawClient.connect(port: server.port)
            for _ in 0..<2 {
                try await keepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                #expect(try await keepAlive.readResponse()?.header("connection") == "keep-alive")
            }
            keepAlive.close()
        }
    }

    @Test func headGetsTheHeadOfGetWithoutTheBody() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send("HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n" + Self.get)
            let head = try #require(try await client.readResponse(head: true))
            #expect(head.header("content-length") == "5")
            #expect(try await client.readResponse()?.text == "hello")  // nothing came between the two
            client.close()
        }
    }

    @Test func thrownErrorIsA500WithoutItsDetails() async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send("GET /fail HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try #require(try await client.readResponse())
            #expect(response.status == 500)
            #expect(!response.text.contains("hunter2") && !response.text.contains("Secret"))
            try await client.send(Self.get)  // the connection still serves
            #expect(try await client.readResponse()?.status == 200)
            client.close()
        }
    }

    @Test(arguments: [
        ("GET /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("GET /hello HTTP/1.1\r\nHost: t\r\nX: " + String(repeating: "x", count: 20000) + "\r\n\r\n", 431),
        ("GET /" + String(repeating: "x", count: 9000) + " HTTP/1.1\r\nHost: t\r\n\r\n", 414),
        ("GET /hello HTTP/2.0\r\nHost: t\r\n\r\n", 505),
        ("GET /hello HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n", 400),
        ("DELETE /hello HTTP/1.1\r\nHost: t\r\n\r\n", 405),
        ("GET /missing HTTP/1.1\r\nHost: t\r\n\r\n", 404),
        (
            "POST /form HTTP/1.1\r\nHost: t\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Content-Length: 5\r\n\r\nto=%G", 400
        ),
    ])
    func refusedRequestsGetTheirStatus(_ request: String, _ status: Int) async throws {
        try await withTestServer(router: Self.router()) { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send(request)
            #expect(try await client.readResponse()?.status == status)
            client.close()
        }
    }

    @Test func slowlorisClientGets408AndIsClosed() async throws {
        try await withTestServer(
            router: Self.router(), configuration: testConfiguration { $0.headerTimeout = .milliseconds(400) }
        ) {
            server in
            let client = try await RawClient.connect(port: server.port)
            let start = ContinuousClock.now
            // A byte every 100 ms: every read makes progress, but the head never ends in time.
            for byte in "GET /hello HTTP/1.1\r\nHost: t\r\nX-Slow: ".utf8.prefix(8) {
                // On a slow machine the server may already have answered and closed: stop sending.
                do { try await client.send([byte]) } catch { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            let response = try #require(try await client.readResponse())
            #expect(response.status == 408)
            #expect(response.header("connection") == "close")
            #expect(try await client.readToEnd().isEmpty)
            #expect(ContinuousClock.now - start < .seconds(8))  // the 408 itself proves the timeout; this, no hang
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() async throws {
        try await withTestServer(
            router: Self.router(), configuration: testConfiguration { $0.idleTimeout = .milliseconds(300) }
        ) { server in
            let client = try await RawClient.connect(port: server.port)
            // The idle time starts once the response is out, so surely after this.
            let start = ContinuousClock.now
            try await client.send(Self.get)
            #expect(try await client.readResponse()?.status == 200)
            #expect(try await client.readToEnd(timeout: .seconds(5)).isEmpty)
            #expect(ContinuousClock.now - start >= .milliseconds(300))
        }
    }

    @Test func connectionsPastTheLimitGet503AndAreClosed() async throws {
        let metrics = MetricsRegistry()
        try await withTestServer(
            router: Self.router(), metrics: metrics, configuration: testConfiguration { $0.maxConnections = 2 }
        ) {
            server in
            var served: [RawClient] = []
            for _ in 0..<2 {
                let client = try await RawClient.connect(port: server.port)
                try await client.send(Self.get)
                #expect(try await client.readResponse()?.status == 200)
                served.append(client)
            }
            let extra = try await RawClient.connect(port: server.port)
            try await extra.send(Self.get)
            let refused = try #require(try await extra.readResponse())
            #expect(refused.status == 503)
            #expect(refused.header("retry-after") == "1")
            #expect(try await extra.readToEnd().isEmpty)

            // Once one closes, a new connection is served (as soon as the server has seen the close).
            served[0].close()
            var status: Int?
            var refusals = 1
            let deadline = ContinuousClock.now + .seconds(10)
            while status != 200 && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                let next = try await RawClient.connect(port: server.port)
                try await next.send(Self.get)
                status = try await next.readResponse()?.status
                if status == 503 { refusals += 1 }
                next.close()
            }
            #expect(status == 200)
            served[1].close()
            #expect(metrics.prometheusText().contains("http_connections_rejected_total \(refusals)"))
            #expect(metrics.prometheusText().contains("http_requests_total{status=\"200\"} 3"))
        }
    }

    @Test func shutdownLetsAnInFlightRequestFinishAndClosesIdleConnections() async throws {
        let started = Signal()
        let finished = Signal()
        var router = Self.router()
        router.get("/slow") { _ in
            started.raise()
            try await Task.sleep(for: .milliseconds(1500))
            finished.raise()
            return .text("finished")
        }
        var configuration = HTTPServer.Configuration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .seconds(10)
        let server = try HTTPServer(
            configuration: configuration, logger: Logger(label: "http-test", level: .critical), router: router)
        let running = Task { try await server.run() }

        let idle = try await RawClient.connect(port: server.port)
        try await idle.send(Self.get)
        #expect(try await idle.readResponse()?.status == 200)
        let busy = try await RawClient.connect(port: server.port)
        try await busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        try await started.wait()

        running.cancel()
        #expect(try await idle.readToEnd(timeout: .seconds(5)).isEmpty)
        #expect(!finished.isRaised, "the idle connection was closed at once, not after the in-flight request")
        let response = try #require(try await busy.readResponse())
        #expect(response.text == "finished")
        #expect(response.header("connection") == "close")
        try await running.value
        // Not listening any more.
        await #expect(throws: SocketError.self) {
            try await onThread {
                _ = try Socket.connect(host: "127.0.0.1", port: server.port, deadline: .now + .seconds(2))
            }
        }
    }

    @Test func runTwiceThrows() async throws {
        try await withTestServer(router: Self.router()) { server in
            try await Task.sleep(for: .milliseconds(20))
            let error = await #expect(throws: HTTPServerError.self) { try await server.run() }
            #expect(error?.code == .alreadyRunning)
        }
    }

    @Test func curlPostsAFormAndReusesTheConnection() async throws {
        let curl = "/usr/bin/curl"
        try #require(FileManager.default.isExecutableFile(atPath: curl), "curl is not installed")
        try await withTestServer(router: Self.router()) { server in
            let base = "http://127.0.0.1:\(server.port)"
            let output = try await onThread { () throws -> String in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: curl)
                process.arguments = [
                    "-sS", "--max-time", "10", "-w", "\n%{http_code} %{num_connects}\n",
                    "--data-urlencode", "to=ann@example.com", "--data-urlencode", "subject=Hi & bye",
                    "\(base)/form", "--next", "-sS", "-w", "\n%{http_code} %{num_connects}\n", "\(base)/json",
                ]
                let pipe = Pipe()
                process.standardOutput = pipe
                try process.run()
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                return String(decoding: data, as: UTF8.self)
            }
            // The second transfer reuses the first one's connection (0 new connects).
            #expect(output == "to=ann@example.com subject=Hi & bye\n200 1\n{\"status\":\"ok\"}\n200 0\n")
        }
    }
}
