/// Size limits the parser enforces, each answered with its own status.
///
/// The defaults suit a web front end: browser requests fit with room to spare, and one
/// connection can make the server hold at most about `maxHeaderBytes + maxBodyBytes`.
public struct HTTPRequestLimits: Sendable, Equatable {
    /// The longest request-target (path and query), in bytes; longer is 414 URI Too Long. Default 8 KiB.
    public var maxRequestTargetLength: Int
    /// The most bytes of header field lines (names, values, line ends), and separately of the
    /// trailer section of a chunked body; more is 431. Default 16 KiB.
    public var maxHeaderBytes: Int
    /// The most header (or trailer) field lines; more is 431. Default 100.
    public var maxHeaderCount: Int
    /// The largest body, in bytes; larger is 413 Content Too Large, decided from `Content-Length`
    /// before any of the body is read, and from the chunk sizes of a chunked body. Default 1 MiB.
    public var maxBodyBytes: Int

    /// Limits with the defaults above, or the values given.
    public init(
        maxRequestTargetLength: Int = 8192, maxHeaderBytes: Int = 16384, maxHeaderCount: Int = 100,
        maxBodyBytes: Int = 1 << 20
    ) {
        self.maxRequestTargetLength = maxRequestTargetLength
        self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount
        self.maxBodyBytes = maxBodyBytes
    }
}
