/// What answers a request: a handler closure. A thrown `HTTPError` becomes its status; any other
/// error becomes a 500 whose body says nothing about it (the server logs it).
public typealias HTTPHandler = @Sendable (HTTPRequest) async throws -> HTTPResponse

/// Routes requests by method and path pattern to handlers.
///
/// A pattern is a path whose segments are literals or `{name}` captures, e.g. `/api/emails/{id}`;
/// a capture matches one non-empty segment and its percent-decoded value lands in
/// `request.pathParameters`. When several patterns match a path, the one whose literal segments
/// come first wins (`/api/emails/stats` over `/api/emails/{id}`). A known path with no route for
/// the method is 405 with an `Allow` field; HEAD is served by the GET route when there is no HEAD
/// route; an unknown path is 404.
///
/// ```swift
/// var router = Router()
/// router.get("/health") { _ in .text("ok") }
/// router.get("/api/emails/{id}") { request in try .json(lookUp(request.pathParameters["id"])) }
/// let server = try HTTPServer(configuration: .init(port: 8080), router: router)
/// ```
public struct Router: Sendable {
    struct Route: Sendable {
        var method: HTTPMethod
        var pattern: PathPattern
        var handler: HTTPHandler
    }

    private var routes: [Route] = []

    /// A router with no routes: every request is 404.
    public init() {}

    /// Adds a route. A pattern that does not start with `/` or holds an empty or unclosed `{}`
    /// is a programming error and stops the program.
    public mutating func add(_ method: HTTPMethod, _ pattern: String, handler: @escaping HTTPHandler) {
        guard let parsed = PathPattern(pattern) else { preconditionFailure("invalid route pattern '\(pattern)'") }
        routes.append(Route(method: method, pattern: parsed, handler: handler))
        // Keep the most specific patterns first (only patterns of one length can both match a path),
        // ties in the order added.
        routes = routes.enumerated().sorted { a, b in
            let (x, y) = (a.element.pattern, b.element.pattern)
            if x.segments.count != y.segments.count { return x.segments.count < y.segments.count }
            if x.precedes(y) != y.precedes(x) { return x.precedes(y) }
            return a.offset < b.offset
        }.map(\.element)
    }

    /// Adds a GET route (which also serves HEAD).
    public mutating func get(_ pattern: String, handler: @escaping HTTPHandler) { add(.get, pattern, handler: handler) }
    /// Adds a POST route.
    public mutating func post(_ pattern: String, handler: @escaping HTTPHandler) {
        add(.post, pattern, handler: handler)
    }
    /// Adds a PUT route.
    public mutating func put(_ pattern: String, handler: @escaping HTTPHandler) { add(.put, pattern, handler: handler) }
    /// Adds a PATCH route.
    public mutating func patch(_ pattern: String, handler: @escaping HTTPHandler) {
        add(.patch, pattern, handler: handler)
    }
    /// Adds a DELETE route.
    public mutating func delete(_ pattern: String, handler: @escaping HTTPHandler) {
        add(.delete, pattern, handler: handler)
    }

    /// Finds the route for `request` and runs its handler.
    /// - Throws: `HTTPError` 404, 405 (with `Allow`) or 400 (a path with a bad percent-encoding),
    ///   and whatever the handler throws.
    public func respond(to request: HTTPRequest) async throws -> HTTPResponse {
        let (route, parameters) = try self.route(for: request)
        var request = request
        request.pathParameters = parameters
        return try await route.handler(request)
    }

    /// The route for `request` and what its pattern captured, without running it.
    func route(for request: HTTPRequest) throws(HTTPError) -> (Route, [String: String]) {
        let segments = try PathPattern.segments(of: request.path)
        var allowed: [HTTPMethod] = []
        var getRoute: (Route, [String: String])?
        for route in routes {
            guard let parameters = route.pattern.match(segments) else { continue }
            if route.method == request.method { return (route, parameters) }
            if route.method == .get && request.method == .head && getRoute == nil { getRoute = (route, parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if let getRoute { return getRoute }
        guard !allowed.isEmpty else { throw HTTPError(.notFound) }
        if allowed.contains(.get) && !allowed.contains(.head) { allowed.append(.head) }
        throw HTTPError(.methodNotAllowed, headers: ["Allow": allowed.map(\.rawValue).joined(separator: ", ")])
    }

    /// The router as a handler, for `HTTPServer(configuration:handler:)`.
    public var handler: HTTPHandler {
        { request in try await self.respond(to: request) }
    }
}

/// A parsed route pattern.
struct PathPattern: Sendable, Equatable {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    var segments: [Segment]

    init?(_ pattern: String) {
        guard pattern.hasPrefix("/") else { return nil }
        var segments: [Segment] = []
        for piece in pattern.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if piece.hasPrefix("{") {
                guard piece.hasSuffix("}"), piece.count > 2 else { return nil }
                segments.append(.parameter(String(piece.dropFirst().dropLast())))
            } else {
                guard !piece.contains("{") && !piece.contains("}") else { return nil }
                segments.append(.literal(String(piece)))
            }
        }
        if segments == [.literal("")] { segments = [] }  // "/"
        self.segments = segments
    }

    /// Whether this pattern is more specific: at the first segment where the two differ in kind,
    /// this one has the literal.
    func precedes(_ other: PathPattern) -> Bool {
        for (a, b) in zip(segments, other.segments) {
            switch (a, b) {
            case (.literal, .parameter): return true
            case (.parameter, .literal): return false
            default: continue
            }
        }
        return false
    }

    func match(_ path: [String]) -> [String: String]? {
        guard path.count == segments.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, value) in zip(segments, path) {
            switch segment {
            case .literal(let literal):
                guard literal == value else { return nil }
            case .parameter(let name):
                guard !value.isEmpty else { return nil }
                parameters[name] = value
            }
        }
        return parameters
    }

    /// The percent-decoded segments of a request path (`/` has none; `/a/` has `a` and an empty one).
    static func segments(of path: Substring) throws(HTTPError) -> [String] {
        guard path.hasPrefix("/") else { throw HTTPError(.notFound) }
        if path == "/" { return [] }
        var result: [String] = []
        for piece in path.utf8.dropFirst().split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            result.append(try URLEncodedForm.percentDecode(piece, plusIsSpace: false))
        }
        return result
    }
}
