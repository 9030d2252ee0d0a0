/// A request as the server hands it to a handler: the head, and the whole body.
///
/// The body is read completely (up to the configured limit) before the handler runs, whether it
/// came with a `Content-Length` or chunked; trailer fields of a chunked body are read and dropped.
public struct HTTPRequest: Sendable, Equatable {
    /// The method, e.g. `GET`.
    public var method: HTTPMethod
    /// The request-target exactly as sent: `/path?query`, an absolute URL, or `*`.
    public var target: String
    /// The protocol version the client spoke (1.0 or 1.1).
    public var version: HTTPVersion
    /// The header fields, in the order received.
    public var headers: HTTPHeaders
    /// The whole body, de-chunked; empty when there is none.
    public var body: [UInt8]
    /// The values the route pattern captured (`{id}` in `/api/emails/{id}`), percent-decoded.
    public var pathParameters: [String: String]

    /// A request, e.g. for testing handlers without a server.
    public init(
        method: HTTPMethod, target: String, version: HTTPVersion = .http1_1, headers: HTTPHeaders = [:],
        body: [UInt8] = []
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = body
        self.pathParameters = [:]
    }

    /// The path of the target, still percent-encoded: `/a%20b` for `/a%20b?x=1`, `/x` for
    /// `http://host/x`, `*` for `OPTIONS *`.
    public var path: Substring {
        var rest = Substring(target)
        if !rest.hasPrefix("/") && rest != "*", let scheme = rest.range(of: "://") {
            // absolute-form: drop the scheme and authority.
            rest = rest[scheme.upperBound...]
            guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
            if rest[slash] == "?" { return "/" }
            rest = rest[slash...]
        }
        return rest.firstIndex(of: "?").map { rest[..<$0] } ?? rest
    }

    /// The raw query (after `?`), or nil when the target has none.
    public var query: Substring? {
        guard let mark = target.firstIndex(of: "?") else { return nil }
        return target[target.index(after: mark)...]
    }

    /// The query decoded as `application/x-www-form-urlencoded` (empty without a query).
    /// - Throws: `HTTPError` 400 on an invalid percent-encoding or non-UTF-8 text.
    public func queryItems() throws(HTTPError) -> URLEncodedForm {
        guard let query else { return URLEncodedForm() }
        return try URLEncodedForm(decoding: Array(query.utf8))
    }

    /// The body decoded as an HTML form (`application/x-www-form-urlencoded`).
    /// - Throws: `HTTPError` 415 for another content type, 400 for an invalid encoding.
    public func formBody() throws(HTTPError) -> URLEncodedForm {
        let type = headers["Content-Type"].map { $0.split(separator: ";").first.map(HTTPHeaders.trimmed) ?? "" }
        guard let type, HTTPHeaders.equalIgnoringCase(type, "application/x-www-form-urlencoded") else {
            throw HTTPError(.unsupportedMediaType, "expected an application/x-www-form-urlencoded body")
        }
        return try URLEncodedForm(decoding: body)
    }

    /// Whether the client asked to keep the connection open after this request: the default in
    /// HTTP/1.1 unless `Connection: close`; in HTTP/1.0 only with `Connection: keep-alive`.
    public var keepAliveRequested: Bool {
        if version == .http1_1 {
            return !headers.containsToken("close", in: "Connection")
        }
        return version == .http1_0 && headers.containsToken("keep-alive", in: "Connection")
            && !headers.containsToken("close", in: "Connection")
    }
}

/// An error a handler throws to answer with a given status, e.g. `throw HTTPError(.notFound)`.
/// The server sends `message` as a `text/plain` body, so it must not hold anything secret. Any
/// other error a handler throws becomes a bare 500.
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The status of the response.
    public var status: HTTPStatus
    /// The text of the response body.
    public var message: String
    /// Extra response fields, e.g. `Allow` for a 405.
    public var headers: HTTPHeaders

    /// A request, e.g. for testing handlers without a server.
    public init(_ status: HTTPStatus, _ message: String? = nil, headers: HTTPHeaders = [:]) {
        self.status = status
        self.message = message ?? status.reasonPhrase
        self.headers = headers
    }

    public var description: String { "\(status): \(message)" }

    /// The response the server sends for this error.
    public var response: HTTPResponse {
        var response = HTTPResponse.text(message + "\n", status: status)
        for field in headers { response.headers.add(name: field.name, value: field.value) }
        return response
    }
}
