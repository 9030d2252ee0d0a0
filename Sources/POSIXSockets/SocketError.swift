#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failed socket operation: what was being done, and the system's words for why.
package struct SocketError: Error, Sendable, CustomStringConvertible {
    package enum Kind: Sendable, Equatable {
        /// The host name did not resolve.
        case resolve
        /// No address accepted the connection, or binding/listening failed.
        case connect
        /// The deadline passed first.
        case timeout
        /// A read, write or system call failed on an open socket.
        case io
        /// The peer closed the connection.
        case closed
    }

    package var kind: Kind
    package var message: String
    /// The `errno` value, when one caused the failure.
    package var code: Int32?

    package init(_ kind: Kind, _ message: String, code: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    package var description: String { message }
}

/// `strerror` as a Swift string.
package func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

extension Duration {
    /// Whole milliseconds, rounded down (for `poll` timeouts; AMQPWire's I/O loop uses it too).
    package var pollMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
