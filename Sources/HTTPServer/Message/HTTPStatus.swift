/// A response status: the three-digit code and the reason phrase sent with it.
public struct HTTPStatus: Hashable, Sendable, CustomStringConvertible {
    /// The three-digit code, e.g. 404.
    public var code: Int
    /// The text after the code, e.g. `Not Found`.
    public var reasonPhrase: String

    /// A status with the standard reason phrase for `code` (or an empty one for codes it does not know).
    public init(code: Int) {
        self.code = code
        self.reasonPhrase = Self.standardReasonPhrase(code)
    }

    /// A status with a reason phrase of your own.
    public init(code: Int, reasonPhrase: String) {
        self.code = code
        self.reasonPhrase = reasonPhrase
    }

    public var description: String { "\(code) \(reasonPhrase)" }

    /// Whether a response with this status never carries a body (1xx, 204, 304; RFC 9110 §6.4.1).
    public var forbidsBody: Bool { (100..<200).contains(code) || code == 204 || code == 304 }

    /// `100 Continue`
    public static let `continue` = HTTPStatus(code: 100)
    /// `200 OK`
    public static let ok = HTTPStatus(code: 200)
    /// `201 Created`
    public static let created = HTTPStatus(code: 201)
    /// `202 Accepted`
    public static let accepted = HTTPStatus(code: 202)
    /// `204 No Content`
    public static let noContent = HTTPStatus(code: 204)
    /// `301 Moved Permanently`
    public static let movedPermanently = HTTPStatus(code: 301)
    /// `302 Found`
    public static let found = HTTPStatus(code: 302)
    /// `303 See Other`
    public static let seeOther = HTTPStatus(code: 303)
    /// `304 Not Modified`
    public static let notModified = HTTPStatus(code: 304)
    /// `307 Temporary Redirect`
    public static let temporaryRedirect = HTTPStatus(code: 307)
    /// `308 Permanent Redirect`
    public static let permanentRedirect = HTTPStatus(code: 308)
    /// `400 Bad Request`
    public static let badRequest = HTTPStatus(code: 400)
    /// `401 Unauthorized`
    public static let unauthorized = HTTPStatus(code: 401)
    /// `403 Forbidden`
    public static let forbidden = HTTPStatus(code: 403)
    /// `404 Not Found`
    public static let notFound = HTTPStatus(code: 404)
    /// `405 Method Not Allowed`
    public static let methodNotAllowed = HTTPStatus(code: 405)
    /// `408 Request Timeout`
    public static let requestTimeout = HTTPStatus(code: 408)
    /// `409 Conflict`
    public static let conflict = HTTPStatus(code: 409)
    /// `411 Length Required`
    public static let lengthRequired = HTTPStatus(code: 411)
    /// `413 Content Too Large`
    public static let contentTooLarge = HTTPStatus(code: 413)
    /// `414 URI Too Long`
    public static let uriTooLong = HTTPStatus(code: 414)
    /// `415 Unsupported Media Type`
    public static let unsupportedMediaType = HTTPStatus(code: 415)
    /// `417 Expectation Failed`
    public static let expectationFailed = HTTPStatus(code: 417)
    /// `422 Unprocessable Content`
    public static let unprocessableContent = HTTPStatus(code: 422)
    /// `429 Too Many Requests`
    public static let tooManyRequests = HTTPStatus(code: 429)
    /// `431 Request Header Fields Too Large`
    public static let requestHeaderFieldsTooLarge = HTTPStatus(code: 431)
    /// `500 Internal Server Error`
    public static let internalServerError = HTTPStatus(code: 500)
    /// `501 Not Implemented`
    public static let notImplemented = HTTPStatus(code: 501)
    /// `503 Service Unavailable`
    public static let serviceUnavailable = HTTPStatus(code: 503)
    /// `505 HTTP Version Not Supported`
    public static let httpVersionNotSupported = HTTPStatus(code: 505)

    static func standardReasonPhrase(_ code: Int) -> String {
        switch code {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 417: "Expectation Failed"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: ""
        }
    }
}
