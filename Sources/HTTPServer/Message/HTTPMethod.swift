/// A request method: a token such as `GET` or `POST`, compared case-sensitively (RFC 9110 §9.1).
///
/// Any token is a method: the parser accepts methods it has no constant for, and the router
/// answers them with 405 on a known path.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The method token, e.g. `GET`.
    public var rawValue: String

    /// Makes a method from its token.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Makes a method from its token, e.g. `HTTPMethod("PROPFIND")`.
    public init(_ rawValue: String) { self.rawValue = rawValue }

    /// The `GET` method.
    public static let get = HTTPMethod("GET")
    /// The `HEAD` method.
    public static let head = HTTPMethod("HEAD")
    /// The `POST` method.
    public static let post = HTTPMethod("POST")
    /// The `PUT` method.
    public static let put = HTTPMethod("PUT")
    /// The `PATCH` method.
    public static let patch = HTTPMethod("PATCH")
    /// The `DELETE` method.
    public static let delete = HTTPMethod("DELETE")
    /// The `OPTIONS` method.
    public static let options = HTTPMethod("OPTIONS")

    public var description: String { rawValue }
}

/// The protocol version of a request, `HTTP/major.minor`.
public struct HTTPVersion: Hashable, Sendable, CustomStringConvertible {
    /// The major version: 1.
    public var major: Int
    /// The minor version: 0 or 1.
    public var minor: Int

    /// The version `HTTP/major.minor`.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// `HTTP/1.0`: closes after each response unless asked to keep alive.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// `HTTP/1.1`: keeps the connection open unless asked to close.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    public var description: String { "HTTP/\(major).\(minor)" }
}
