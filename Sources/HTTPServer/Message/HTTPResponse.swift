public import Foundation

/// A response a handler returns: status, header fields and the whole body.
///
/// The server adds `Date`, `Content-Length` and, when it closes the connection, `Connection: close`;
/// it drops any `Content-Length` or `Transfer-Encoding` the handler set, since it frames the body
/// itself. For a HEAD request it sends the head only.
public struct HTTPResponse: Sendable, Equatable {
    /// The status, 200 OK by default.
    public var status: HTTPStatus
    /// The fields the handler sets (the server adds `Date`, `Content-Length`, `Connection`).
    public var headers: HTTPHeaders
    /// The whole body (not sent for HEAD, 204 or 304).
    public var body: [UInt8]

    /// A response with the given parts.
    public init(status: HTTPStatus = .ok, headers: HTTPHeaders = [:], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Array(text.utf8))
    }

    /// A `text/html; charset=utf-8` response. The caller escapes user data in `html`.
    public static func html(_ html: String, status: HTTPStatus = .ok) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Content-Type": "text/html; charset=utf-8"], body: Array(html.utf8))
    }

    /// An `application/json` response with `value` encoded by `encoder`.
    /// - Throws: what `JSONEncoder` throws for a value it cannot encode.
    public static func json(
        _ value: some Encodable, status: HTTPStatus = .ok, encoder: JSONEncoder = JSONEncoder()
    ) throws -> HTTPResponse {
        HTTPResponse(
            status: status, headers: ["Content-Type": "application/json"], body: Array(try encoder.encode(value)))
    }

    /// A redirect to `location` (303 See Other by default: after a form post, the browser GETs it).
    public static func redirect(to location: String, status: HTTPStatus = .seeOther) -> HTTPResponse {
        HTTPResponse(status: status, headers: ["Location": location])
    }
}

extension HTTPRequest {
    /// The body decoded as JSON.
    /// - Throws: `HTTPError` 415 unless the content type is `application/json` (or `+json`),
    ///   400 when the body does not decode (the message says where, not what it held).
    public func decodeJSON<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws(HTTPError) -> T {
        let contentType = headers["Content-Type"].map { $0.split(separator: ";").first.map(HTTPHeaders.trimmed) ?? "" }
        guard let contentType,
            HTTPHeaders.equalIgnoringCase(contentType, "application/json")
                || contentType.lowercased().hasSuffix("+json")
        else {
            throw HTTPError(.unsupportedMediaType, "expected an application/json body")
        }
        do {
            return try decoder.decode(type, from: Data(body))
        } catch {
            throw HTTPError(.badRequest, "the body is not valid JSON for this request")
        }
    }
}
