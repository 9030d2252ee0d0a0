/// One AMQP frame: what travels on a channel (or on channel 0 for the connection).
public enum AMQPFrame: Sendable, Hashable {
    case method(channel: UInt16, AMQPMethod)
    /// The content header after a method that carries content.
    case header(channel: UInt16, ContentHeader)
    /// A slice of a message body; bodies longer than a frame span several. A decoded body frame
    /// is a view into the decoder's buffer (no copy): copy it out before the buffer changes.
    case body(channel: UInt16, ArraySlice<UInt8>)
    case heartbeat

    public var channel: UInt16 {
        switch self {
        case .method(let channel, _), .header(let channel, _), .body(let channel, _): channel
        case .heartbeat: 0
        }
    }

    /// The frame type octets.
    public enum FrameType {
        public static let method: UInt8 = 1
        public static let header: UInt8 = 2
        public static let body: UInt8 = 3
        public static let heartbeat: UInt8 = 8
    }

    /// Bytes around every payload: type (1), channel (2), size (4) and frame-end (1).
    public static let overhead = 8
    /// The octet every frame ends with.
    public static let frameEnd: UInt8 = 0xCE
    /// The bytes a client sends first: `AMQP` 0 0 9 1.
    public static let protocolHeader: [UInt8] = [0x41, 0x4D, 0x51, 0x50, 0, 0, 9, 1]
}

/// The content header frame's payload: the body size and the message properties.
public struct ContentHeader: Sendable, Hashable {
    /// The class of the method the content belongs to; only `basic` (60) carries content.
    public var classID: UInt16
    public var bodySize: UInt64
    public var properties: BasicProperties

    public init(classID: UInt16 = AMQPMethod.Basic.classID, bodySize: UInt64, properties: BasicProperties) {
        self.classID = classID
        self.bodySize = bodySize
        self.properties = properties
    }

    public func encode(into buffer: inout WireBuffer) throws(AMQPCodecError) {
        buffer.writeInteger(classID)
        buffer.writeInteger(UInt16(0))  // weight, always zero
        buffer.writeInteger(bodySize)
        try properties.encode(into: &buffer)
    }

    public init(from reader: inout ByteReader) throws(AMQPCodecError) {
        classID = try reader.readInteger("content header class id")
        guard classID == AMQPMethod.Basic.classID else {
            throw AMQPCodecError(.invalidValue, "a content header for class \(classID); only basic (60) has content")
        }
        let _: UInt16 = try reader.readInteger("content header weight")
        bodySize = try reader.readInteger("content header body size")
        properties = try BasicProperties(from: &reader)
    }
}
