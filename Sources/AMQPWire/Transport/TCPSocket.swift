import POSIXSockets

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The AMQP client's view of the project's socket layer (POSIXSockets): connecting with AMQP
/// errors, and gathering writes of the outbound queue's pieces.
typealias TCPSocket = Socket

extension Socket {
    /// Connects as `Socket.connect` does, reporting failures as AMQP errors.
    static func connectForAMQP(host: String, port: Int, deadline: ContinuousClock.Instant) throws(AMQPError) -> Socket {
        do {
            return try Socket.connect(host: host, port: port, deadline: deadline)
        } catch {
            throw AMQPError(error.kind == .timeout ? .connectTimeout : .connectFailed, error.message)
        }
    }

    /// Sends several pieces in one call (gathering writes). Returns how many bytes went out.
    func send(_ pieces: ArraySlice<OutboundQueue.Piece>) -> IOResult {
        var vectors: [iovec] = []
        vectors.reserveCapacity(pieces.count)
        return gather(pieces, &vectors)
    }

    /// Collects each piece's address inside its own `withUnsafeBytes`, so every pointer is valid
    /// for the one `sendmsg` at the bottom of the recursion (at most a few dozen pieces deep).
    private func gather(_ rest: ArraySlice<OutboundQueue.Piece>, _ vectors: inout [iovec]) -> IOResult {
        guard let piece = rest.first else {
            return vectors.withUnsafeMutableBufferPointer { send(vectors: $0) }
        }
        return piece.bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress, !piece.range.isEmpty else { return gather(rest.dropFirst(), &vectors) }
            vectors.append(
                iovec(
                    iov_base: UnsafeMutableRawPointer(mutating: base + piece.range.lowerBound),
                    iov_len: piece.range.count))
            return gather(rest.dropFirst(), &vectors)
        }
    }
}

extension WakeupPipe {
    /// A wake-up pipe, reporting failure as an AMQP error.
    static func forAMQP() throws(AMQPError) -> WakeupPipe {
        do {
            return try WakeupPipe()
        } catch {
            throw AMQPError(.ioError, error.message)
        }
    }
}

extension AMQPError {
    func withMessage(_ message: String) -> AMQPError {
        var copy = self
        copy.message = message
        return copy
    }
}
