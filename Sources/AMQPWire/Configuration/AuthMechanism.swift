/// A SASL mechanism for the connection handshake.
public enum AuthMechanism: String, Sendable, Hashable, CaseIterable {
    /// `PLAIN`: the username and password in the clear (use TLS, or a trusted network).
    case plain = "PLAIN"
    /// `AMQPLAIN`: RabbitMQ's older mechanism; LOGIN and PASSWORD in a field table.
    case amqplain = "AMQPLAIN"
    /// `EXTERNAL`: the identity comes from outside AMQP (a TLS client certificate).
    case external = "EXTERNAL"

    /// The `start-ok` response for these credentials.
    func response(username: String, password: String) throws(AMQPCodecError) -> [UInt8] {
        switch self {
        case .plain:
            return [0] + Array(username.utf8) + [0] + Array(password.utf8)
        case .amqplain:
            // RabbitMQ (and pika, and the Java client) send the table's entries without its length prefix.
            var buffer = WireBuffer()
            try buffer.writeFieldTableEntries(
                ["LOGIN": .string(username), "PASSWORD": .string(password)], depth: 0)
            return buffer.readableBytesArray
        case .external:
            return []
        }
    }

    /// Parses a name as `auth_mechanism` in a URI gives it (any case).
    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }
}
