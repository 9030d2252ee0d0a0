/// A malformed or oversized input found by the codec, or a value the codec cannot encode.
///
/// Decoding throws this for bytes that can never become a valid frame; it returns `nil` (not an
/// error) when it only needs more bytes. The connection answers a decoding error by closing with
/// ``replyCode`` (501 frame-error, 502 syntax-error or 540 not-implemented), as the spec asks.
public struct AMQPCodecError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What went wrong, as an extensible set of codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A field or value ends past its frame payload.
        public static let truncated = Code("truncated")
        /// A payload has bytes left over after its last field.
        public static let trailingBytes = Code("trailingBytes")
        /// The frame-end octet (0xCE) is missing.
        public static let badFrameEnd = Code("badFrameEnd")
        /// The frame type octet is not method, header, body or heartbeat.
        public static let unknownFrameType = Code("unknownFrameType")
        /// A frame is larger than the negotiated frame_max.
        public static let frameTooLarge = Code("frameTooLarge")
        /// A class or method id this protocol does not define.
        public static let unknownMethod = Code("unknownMethod")
        /// A field-table value with a type tag RabbitMQ does not define.
        public static let unknownFieldType = Code("unknownFieldType")
        /// A short string (or table key) longer than 255 bytes was given to encode.
        public static let shortStringTooLong = Code("shortStringTooLong")
        /// Tables and arrays nested deeper than the codec allows.
        public static let nestingTooDeep = Code("nestingTooDeep")
        /// A value that is well-formed bytes but not allowed where it appears.
        public static let invalidValue = Code("invalidValue")
        /// The peer answered with an AMQP protocol header: it does not speak AMQP 0-9-1.
        public static let protocolVersionMismatch = Code("protocolVersionMismatch")
        /// A message body larger than the configured maximum message size.
        public static let messageTooLarge = Code("messageTooLarge")
    }

    public var code: Code
    /// A sentence for people: what was found and where.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The AMQP reply code for a connection close caused by this error.
    public var replyCode: UInt16 {
        switch code {
        case .badFrameEnd, .unknownFrameType, .frameTooLarge: 501
        case .unknownMethod: 540
        case .messageTooLarge: 311
        default: 502
        }
    }

    public var description: String { "AMQP codec error (\(code)): \(message)" }
}
