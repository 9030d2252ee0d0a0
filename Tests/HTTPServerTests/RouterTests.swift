import Testing

@testable import HTTPServer

@Suite struct RouterTests {
    static func router() -> Router {
        var router = Router()
        router.get("/") { _ in .text("root") }
        router.get("/api/emails/{id}") { request in .text("email \(request.pathParameters["id"] ?? "?")") }
        router.delete("/api/emails/{id}") { _ in HTTPResponse(status: .noContent) }
        router.get("/api/emails/stats") { _ in .text("stats") }
        router.post("/api/emails") { _ in HTTPResponse(status: .accepted) }
        router.get("/users/{user}/posts/{post}") { request in
            .text("\(request.pathParameters["user"] ?? "")/\(request.pathParameters["post"] ?? "")")
        }
        return router
    }

    func respond(_ method: HTTPMethod, _ target: String) async throws -> HTTPResponse {
        do {
            return try await Self.router().respond(
                to: HTTPRequest(method: method, target: target, headers: ["Host": "h"]))
        } catch let error as HTTPError {
            return error.response
        }
    }

    @Test func routesByMethodAndPathAndCapturesParameters() async throws {
        #expect(try await respond(.get, "/").body == Array("root".utf8))
        #expect(try await respond(.get, "/api/emails/42?x=1").body == Array("email 42".utf8))
        #expect(try await respond(.delete, "/api/emails/42").status == .noContent)
        #expect(try await respond(.post, "/api/emails").status == .accepted)
        #expect(try await respond(.get, "/users/ann/posts/7").body == Array("ann/7".utf8))
    }

    @Test func literalSegmentsWinOverCapturesWhateverTheOrderAdded() async throws {
        #expect(try await respond(.get, "/api/emails/stats").body == Array("stats".utf8))
    }

    @Test func capturedValuesArePercentDecodedButPlusStaysPlus() async throws {
        #expect(try await respond(.get, "/api/emails/a%20b+c").body == Array("email a b+c".utf8))
    }

    @Test func unknownPathIs404() async throws {
        #expect(try await respond(.get, "/nope").status == .notFound)
        #expect(try await respond(.get, "/api/emails/").status == .notFound)  // an empty capture
        #expect(try await respond(.get, "/api/emails/1/2").status == .notFound)
    }

    @Test func knownPathWithAnotherMethodIs405WithAllow() async throws {
        let response = try await respond(.put, "/api/emails/1")
        #expect(response.status == .methodNotAllowed)
        #expect(response.headers["Allow"] == "GET, DELETE, HEAD")
        let unknownMethod = try await respond(HTTPMethod("BREW"), "/api/emails")
        #expect(unknownMethod.status == .methodNotAllowed)
        #expect(unknownMethod.headers["Allow"] == "POST")
    }

    @Test func headIsServedByTheGetRoute() async throws {
        #expect(try await respond(.head, "/api/emails/9").body == Array("email 9".utf8))
    }

    @Test func badPercentEncodingInThePathIs400() async throws {
        #expect(try await respond(.get, "/api/emails/%zz").status == .badRequest)
        #expect(try await respond(.get, "/api/emails/%FF").status == .badRequest)  // not UTF-8
    }

    @Test func patternsParse() {
        #expect(PathPattern("/")?.segments == [])
        #expect(PathPattern("/a/{b}")?.segments == [.literal("a"), .parameter("b")])
        #expect(PathPattern("a") == nil)
        #expect(PathPattern("/{}") == nil)
        #expect(PathPattern("/{a") == nil)
        #expect(PathPattern("/x{a}") == nil)
    }
}

@Suite struct URLEncodedFormTests {
    @Test func decodesPlusPercentAndRepeatedNames() throws {
        let form = try URLEncodedForm(
            decoding: "subject=Hello+there&to=a%40b.c&tag=1&tag=2&empty=&bare&&caf%C3%A9=%E2%82%AC")
        #expect(form["subject"] == "Hello there")
        #expect(form["to"] == "a@b.c")
        #expect(form.values(for: "tag") == ["1", "2"])
        #expect(form["empty"] == "")
        #expect(form["bare"] == "")
        #expect(form["café"] == "€")
        #expect(form["missing"] == nil)
        #expect(form.items.count == 7)
    }

    @Test(arguments: ["a=%", "a=%4", "a=%zz", "a=%4g", "%=1", "a=%FF", "a=%C3"])
    func invalidEncodingIs400(_ text: String) {
        let error = #expect(throws: HTTPError.self) { try URLEncodedForm(decoding: text) }
        #expect(error?.status == .badRequest)
    }

    @Test func encodingRoundTrips() throws {
        let form = URLEncodedForm([.init(name: "a b", value: "x&y=z+é"), .init(name: "n", value: "")])
        #expect(form.encoded == "a+b=x%26y%3Dz%2B%C3%A9&n=")
        #expect(try URLEncodedForm(decoding: form.encoded) == form)
    }

    @Test func requestQueryAndFormBody() throws {
        let request = HTTPRequest(
            method: .post, target: "/f?page=2&q=a+b",
            headers: ["Host": "h", "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"],
            body: Array("name=Ann&msg=hi%21".utf8))
        #expect(try request.queryItems()["q"] == "a b")
        #expect(try request.formBody()["msg"] == "hi!")
        let json = HTTPRequest(method: .post, target: "/f", headers: ["Content-Type": "application/json"])
        #expect(throws: HTTPError.self) { try json.formBody() }
        #expect(try HTTPRequest(method: .get, target: "/").queryItems().items.isEmpty)
    }

    @Test func jsonBodyDecodesAndBadJSONIs400() throws {
        struct Email: Decodable, Equatable {
            var to: String
        }
        var request = HTTPRequest(
            method: .post, target: "/", headers: ["Content-Type": "application/json"],
            body: Array(#"{"to":"a@b"}"#.utf8))
        #expect(try request.decodeJSON(Email.self) == Email(to: "a@b"))
        request.body = Array("{".utf8)
        #expect(throws: HTTPError(.badRequest, "the body is not valid JSON for this request")) {
            try request.decodeJSON(Email.self)
        }
        request.headers["Content-Type"] = "text/plain"
        #expect(throws: HTTPError.self) { try request.decodeJSON(Email.self) }
    }
}

@Suite struct ResponseWriterTests {
    static let date = Array("Tue, 24 Nov 2026 09:15:02 GMT".utf8)

    func write(
        _ response: HTTPResponse, headOnly: Bool = false, keepAlive: Bool = true, confirm: Bool = false
    ) -> String? {
        var output: [UInt8] = []
        let framing = ResponseWriter.Framing(headOnly: headOnly, keepAlive: keepAlive, confirmKeepAlive: confirm)
        guard ResponseWriter.write(response, framing: framing, date: Self.date, serverName: nil, into: &output) else {
            return nil
        }
        return String(decoding: output, as: UTF8.self)
    }

    @Test func writesStatusDateFieldsLengthAndBody() {
        var response = HTTPResponse.text("hi")
        response.headers.add(name: "Content-Length", value: "999")  // the server frames the body itself
        response.headers.add(name: "Transfer-Encoding", value: "chunked")
        #expect(
            write(response)
                == "HTTP/1.1 200 OK\r\nDate: Tue, 24 Nov 2026 09:15:02 GMT\r\nContent-Type: text/plain; charset=utf-8\r\n"
                + "Content-Length: 2\r\n\r\nhi")
    }

    @Test func headGetsTheLengthButNoBody() {
        #expect(write(.text("hello"), headOnly: true)?.hasSuffix("Content-Length: 5\r\n\r\n") == true)
    }

    @Test func noContentHasNeitherLengthNorBody() {
        let text = write(HTTPResponse(status: .noContent, body: Array("x".utf8)))
        #expect(text == "HTTP/1.1 204 No Content\r\nDate: Tue, 24 Nov 2026 09:15:02 GMT\r\n\r\n")
    }

    @Test func connectionFieldSaysCloseOrConfirmsKeepAlive() {
        #expect(write(.text(""), keepAlive: false)?.contains("Connection: close\r\n") == true)
        #expect(write(.text(""), confirm: true)?.contains("Connection: keep-alive\r\n") == true)
        #expect(write(.text(""))?.contains("Connection") == false)
    }

    @Test func redirectSetsLocation() {
        #expect(write(.redirect(to: "/done"))?.contains("HTTP/1.1 303 See Other\r\n") == true)
        #expect(HTTPResponse.redirect(to: "/done").headers["Location"] == "/done")
    }

    @Test(arguments: [
        HTTPResponse(headers: ["Location": "/a\r\nSet-Cookie: x=1"]),
        HTTPResponse(headers: ["Bad Name": "v"]),
        HTTPResponse(headers: ["": "v"]),
        HTTPResponse(status: HTTPStatus(code: 200, reasonPhrase: "OK\r\nX: y")),
        HTTPResponse(status: HTTPStatus(code: 42)),
    ])
    func unsafeResponsesAreRefused(_ response: HTTPResponse) {
        #expect(write(response) == nil)
    }

    @Test func dateIsIMFFixdate() {
        #expect(String(decoding: HTTPDateCache.format(784_111_777), as: UTF8.self) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }
}
