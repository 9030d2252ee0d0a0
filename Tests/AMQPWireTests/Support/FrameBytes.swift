import AMQPWire

extension AMQPFrame {
    /// The frame as the encoder writes it.
    func encodedBytes() throws -> [UInt8] {
        var buffer = WireBuffer()
        try AMQPFrameEncoder.encode(self, into: &buffer)
        return buffer.readableBytesArray
    }
}

extension Array where Element == AMQPFrame {
    func encodedBytes() throws -> [UInt8] {
        var buffer = WireBuffer()
        for frame in self { try AMQPFrameEncoder.encode(frame, into: &buffer) }
        return buffer.readableBytesArray
    }
}

/// A body whose bytes differ from their neighbours, so a chunk out of place or out of order shows.
func patternedBody(count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
}
