import Testing

@testable import HTTPServer

/// The parser on its own: every input is fed whole, byte by byte and in pieces (ParserVerifier),
/// and the three must agree.
@Suite struct HTTPRequestParserTests {
    typealias Result = HTTPRequestParser.Result

    static func request(_ text: String, limits: HTTPRequestLimits = HTTPRequestLimits()) throws -> HTTPRequest {
        let results = try ParserVerifier.results(text, limits: limits)
        guard results.count == 1, case .request(let request) = results[0] else {
            throw ParserVerifier.Disagreement(description: "expected one request, got \(results)")
        }
        return request
    }

    static func error(_ text: String, limits: HTTPRequestLimits = HTTPRequestLimits()) throws -> HTTPStatus? {
        let results = try ParserVerifier.results(text, limits: limits)
        guard case .error(let status) = results.last else { return nil }
        return status
    }

    // MARK: Requests

    @Test func simpleGetKeepsMethodTargetVersionAndHeaders() throws {
        let request = try Self.request(
            "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  spaced value \t\r\n\r\n")
        #expect(request.method == .get)
        #expect(request.target == "/a/b?x=1&y=%20")
        #expect(request.path == "/a/b")
        #expect(request.query == "x=1&y=%20")
        #expect(request.version == .http1_1)
        #expect(request.headers["host"] == "example.com")
        #expect(request.headers["X-THING"] == "spaced value")
        #expect(request.body.isEmpty)
        #expect(request.keepAliveRequested)
    }

    @Test func fixedLengthBodyIsReadExactlyAndTheNextRequestFollows() throws {
        let text =
            "POST /f HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world"
            + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n"
        let requests = ParserVerifier.requests(try ParserVerifier.results(text))
        #expect(requests.map(\.target) == ["/f", "/next"])
        #expect(requests.first?.body == Array("hello world".utf8))
    }

    @Test func chunkedBodyWithExtensionsAndTrailersIsAssembled() throws {
        let request = try Self.request(
            "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=\"v a l\"\r\nhello\r\n1 ; x\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: yes\r\nOther: 1\r\n\r\n"
        )
        #expect(request.body == Array("hello 0123456789".utf8))
        #expect(request.headers["X-Trailer"] == nil)  // trailers are dropped
    }

    @Test func chunkedTransferEncodingIsCaseInsensitive() throws {
        let request = try Self.request(
            "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ChUnKeD\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        #expect(request.body == Array("abc".utf8))
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let text =
            (1...5).map { "GET /\($0) HTTP/1.1\r\nHost: h\r\n\r\n" }.joined()
            + "POST /6 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n"
            + "PUT /7 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\ny"
        let requests = ParserVerifier.requests(try ParserVerifier.results(text))
        #expect(requests.map(\.target) == (1...7).map { "/\($0)" })
    }

    @Test func emptyLinesBeforeARequestAreIgnored() throws {
        #expect(try Self.request("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n").target == "/")
    }

    @Test func expectContinueIsReportedBeforeTheBody() throws {
        let results = try ParserVerifier.results(
            "POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nok")
        #expect(results.count == 2)
        #expect(results.first == .continueRequested)
        #expect(ParserVerifier.requests(results).first?.body == Array("ok".utf8))
    }

    @Test func expectContinueWithoutBodyNeedsNoContinue() throws {
        let results = try ParserVerifier.results("GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n")
        #expect(results.count == 1)
    }

    @Test func unknownExpectationIs417() throws {
        #expect(try Self.error("GET / HTTP/1.1\r\nHost: h\r\nExpect: teapot\r\n\r\n") == .expectationFailed)
    }

    @Test func http10NeedsNoHostAndClosesByDefault() throws {
        let request = try Self.request("GET / HTTP/1.0\r\n\r\n")
        #expect(request.version == .http1_0)
        #expect(!request.keepAliveRequested)
        #expect(try Self.request("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keepAliveRequested)
        #expect(!(try Self.request("GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n").keepAliveRequested))
    }

    @Test func targetFormsAreCheckedAndTheirPathsFound() throws {
        #expect(try Self.request("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n").path == "*")
        #expect(try Self.request("GET http://h:80/x/y?q=1 HTTP/1.1\r\nHost: h\r\n\r\n").path == "/x/y")
        #expect(try Self.request("GET HTTPS://h?q HTTP/1.1\r\nHost: h\r\n\r\n").path == "/")
        #expect(try Self.error("GET * HTTP/1.1\r\nHost: h\r\n\r\n") == .badRequest)
        #expect(try Self.error("GET x HTTP/1.1\r\nHost: h\r\n\r\n") == .badRequest)
        #expect(try Self.error("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n") == .badRequest)
    }

    @Test func phaseFollowsTheRequest() {
        var parser = HTTPRequestParser()
        #expect(parser.phase == .idle)
        parser.append(Array("POST / HTTP/1.1\r\nHost: h\r\n".utf8))
        #expect(parser.next() == .needMoreBytes)
        #expect(parser.phase == .head)
        parser.append(Array("Content-Length: 3\r\n\r\nab".utf8))
        #expect(parser.next() == .needMoreBytes)
        #expect(parser.phase == .body)
        parser.append(Array("c".utf8))
        guard case .request = parser.next() else {
            Issue.record("expected a request")
            return
        }
        #expect(parser.phase == .idle)
        #expect(parser.bufferedByteCount == 0)
    }

    // MARK: Malformed

    @Test(arguments: [
        "GET / HTTP/1.1\nHost: h\n\n",  // bare LF line ends
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",  // bare CR in a value
        "GET / HTTP/1.1\r\nHost: h\r\nX: a\u{0}b\r\n\r\n",  // NUL in a value
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",  // two spaces
        "GET / HTTP/1.1 \r\nHost: h\r\n\r\n",  // trailing space
        "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",  // space in the target
        "G(T / HTTP/1.1\r\nHost: h\r\n\r\n",  // not a token
        "GET / http/1.1\r\nHost: h\r\n\r\n",  // lowercase protocol name
        "GET / HTTP/1.10\r\nHost: h\r\n\r\n",  // too long a version
        "GET / HTTP/1\r\nHost: h\r\n\r\n",
        "GET /\r\nHost: h\r\n\r\n",  // HTTP/0.9 style
        " GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        "GET / HTTP/1.1\r\n Host: h\r\n\r\n",  // whitespace before the first field
        "GET / HTTP/1.1\r\nHost: h\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: h\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\n\r\n",  // HTTP/1.1 without Host
        "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",  // two Hosts
        "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",  // too many empty lines
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5 5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nz\r\n",  // not hex
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",  // no size
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",  // data too long
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\nx\r\n0\r\n\r\n",  // bare LF
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\nx\r\n0\r\n\r\n",
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a\u{1}\r\nx\r\n0\r\n\r\n",
    ])
    func malformedRequestIs400(_ text: String) throws {
        #expect(try Self.error(text) == .badRequest)
    }

    @Test(arguments: ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"])
    func unsupportedVersionIs505(_ version: String) throws {
        #expect(try Self.error("GET / \(version)\r\nHost: h\r\n\r\n") == .httpVersionNotSupported)
    }

    @Test func aFailedParserStaysFailedAndDropsInput() {
        var parser = HTTPRequestParser()
        parser.append(Array("BAD\u{1} / HTTP/1.1\r\n".utf8))
        #expect(parser.next() == .error(.badRequest))
        parser.append(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8))
        #expect(parser.next() == .error(.badRequest))
        #expect(parser.bufferedByteCount == 0)
    }

    // MARK: Request smuggling

    @Test(arguments: [
        "Content-Length: 3\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 3",
        "Content-Length: 3\r\nContent-Length: 4",
        "Content-Length: 3, 4",
        "Content-Length: 3,",
        "Transfer-Encoding: gzip",
        "Transfer-Encoding: gzip, chunked",
        "Transfer-Encoding: chunked, chunked",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: identity",
        "Transfer-Encoding: xchunked",
        "Transfer-Encoding : chunked",  // whitespace before the colon
        "Content-Length : 3",
        "Transfer-Encoding:\r\n chunked",  // obs-fold
        "X-Folded: a\r\n\tb",
    ])
    func ambiguousFramingIsRefused(_ fields: String) throws {
        #expect(try Self.error("POST / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n\r\n3\r\nabc\r\n0\r\n\r\n") == .badRequest)
    }

    @Test func transferEncodingInHTTP10IsRefused() throws {
        #expect(try Self.error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == .badRequest)
    }

    @Test func repeatedEqualContentLengthsAreOneLength() throws {
        let request = try Self.request(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc")
        #expect(request.body == Array("abc".utf8))
    }

    // MARK: Limits

    static let small = HTTPRequestLimits(
        maxRequestTargetLength: 32, maxHeaderBytes: 64, maxHeaderCount: 3, maxBodyBytes: 10)

    @Test func targetAtTheLimitPassesAndOneMoreIs414() throws {
        let atLimit = "/" + String(repeating: "a", count: 31)
        #expect(try Self.request("GET \(atLimit) HTTP/1.1\r\nHost: h\r\n\r\n", limits: Self.small).target == atLimit)
        #expect(try Self.error("GET \(atLimit)b HTTP/1.1\r\nHost: h\r\n\r\n", limits: Self.small) == .uriTooLong)
    }

    @Test func overlongTargetIs414BeforeItEnds() {
        var parser = HTTPRequestParser(limits: Self.small)
        parser.append(Array(("GET /" + String(repeating: "a", count: 40)).utf8))
        #expect(parser.next() == .error(.uriTooLong))
    }

    @Test func headerSectionPastTheLimitIs431() throws {
        let big = "X: " + String(repeating: "v", count: 70)
        #expect(
            try Self.error("GET / HTTP/1.1\r\nHost: h\r\n\(big)\r\n\r\n", limits: Self.small)
                == .requestHeaderFieldsTooLarge)
        // Decided as the bytes arrive, without waiting for the line to end.
        var parser = HTTPRequestParser(limits: Self.small)
        parser.append(Array("GET / HTTP/1.1\r\n\(big)".utf8))
        #expect(parser.next() == .error(.requestHeaderFieldsTooLarge))
    }

    @Test func tooManyFieldLinesIs431() throws {
        let fields = (1...4).map { "A\($0): b" }.joined(separator: "\r\n")
        #expect(
            try Self.error("GET / HTTP/1.1\r\n\(fields)\r\n\r\n", limits: Self.small) == .requestHeaderFieldsTooLarge)
    }

    @Test func oversizeContentLengthIs413BeforeTheBody() {
        var parser = HTTPRequestParser(limits: Self.small)
        parser.append(Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n".utf8))
        #expect(parser.next() == .error(.contentTooLarge))
        var huge = HTTPRequestParser()
        huge.append(Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n".utf8))
        #expect(huge.next() == .error(.contentTooLarge))
    }

    @Test func bodyAtTheLimitPasses() throws {
        let request = try Self.request(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789", limits: Self.small)
        #expect(request.body.count == 10)
    }

    @Test func chunkedBodyPastTheLimitIs413AtTheChunkThatPassesIt() throws {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(try Self.error(head + "6\r\nabcdef\r\n5\r\nabcde\r\n0\r\n\r\n", limits: Self.small) == .contentTooLarge)
        #expect(try Self.error(head + "ffffffffffffffff\r\n", limits: Self.small) == .contentTooLarge)
        let atLimit = try Self.request(head + "6\r\nabcdef\r\n4\r\nabcd\r\n0\r\n\r\n", limits: Self.small)
        #expect(atLimit.body.count == 10)
    }

    @Test func oversizeTrailersAre431() throws {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
        #expect(
            try Self.error(head + "T: " + String(repeating: "t", count: 70) + "\r\n\r\n", limits: Self.small)
                == .requestHeaderFieldsTooLarge)
    }

    @Test func overlongChunkExtensionIs400() throws {
        let head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(try Self.error(head + "1;" + String(repeating: "e", count: 5000) + "\r\nx\r\n0\r\n\r\n") == .badRequest)
    }

    @Test func overlongMethodIs400() throws {
        #expect(try Self.error(String(repeating: "M", count: 40) + " / HTTP/1.1\r\nHost: h\r\n\r\n") == .badRequest)
    }

    @Test func bufferStaysBoundedWhileATrickledBodyIsRead() {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100000\r\n\r\n".utf8))
        #expect(parser.next() == .needMoreBytes)
        for _ in 0..<1000 {
            parser.append([UInt8](repeating: 0x61, count: 100))
            #expect(parser.bufferedByteCount <= 100)
            _ = parser.next()
        }
        #expect(parser.phase == .idle)
    }
}
