/// Everything needed to open a connection. Start from ``init()`` (RabbitMQ's defaults), or from
/// a URI with ``init(url:)``, then adjust fields.
public struct AMQPConnectionConfiguration: Sendable, Hashable {
    /// A broker address. IPv6 literals are written without brackets here (`::1`).
    public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
        public var host: String
        public var port: Int
        public init(host: String, port: Int = 5672) {
            self.host = host
            self.port = port
        }
        public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
    }

    /// Tried in order until one accepts the connection.
    public var endpoints: [Endpoint] = [Endpoint(host: "localhost")]
    public var username = "guest"
    public var password = "guest"
    public var virtualHost = "/"
    /// SASL mechanisms in order of preference; the first the broker also offers is used.
    public var authMechanisms: [AuthMechanism] = [.plain, .amqplain]
    /// Heartbeat interval the client asks for, in seconds (0: take the broker's value).
    public var heartbeat: UInt16 = 60
    /// Largest frame the client asks for, in bytes; never below 8192.
    public var frameMax: UInt32 = 131_072
    /// Highest channel id the client asks for.
    public var channelMax: UInt16 = 2047
    /// How long the TCP connect and the AMQP handshake may take, per endpoint.
    public var connectionTimeout: Duration = .seconds(30)
    /// Shown in the management UI and `rabbitmqctl list_connections`.
    public var connectionName: String?
    /// Extra client properties sent in `start-ok`, merged over the defaults.
    public var clientProperties: FieldTable = [:]
    /// The largest message body accepted from the broker; a larger one closes its channel (the
    /// broker keeps the message) instead of being allocated.
    public var maxMessageSize: Int = 64 << 20
    /// Automatic recovery after a connection failure (on by default).
    public var recovery = RecoveryConfiguration()
    /// How long the I/O thread leaves the socket unread after a read that brought deliveries, so
    /// that a stream of deliveries arrives in fewer, larger reads. Waking up for every message or
    /// two costs more CPU than handling them: at 4 KiB per message against RabbitMQ on two cores,
    /// 100 µs halves the client's CPU per consumed message and lets the broker deliver faster.
    ///
    /// The cost is latency inside a stream: what arrives within this time after such a read waits
    /// until the time is up. A delivery arriving later, such as the next RPC reply after a round
    /// trip longer than this, is not delayed. Writes (publishes, acks) are never held back. `.zero`
    /// turns it off. From 0 to 10 ms. (In a process with over a thousand open files the I/O thread
    /// cannot wait this precisely, and does not wait.)
    public var deliveryCoalescing: Duration = .microseconds(100)

    public init() {}

    /// A configuration from an AMQP URI (`amqp://user:pass@host:port/vhost?heartbeat=10`).
    /// Throws ``AMQPError`` with code `invalidConfiguration` naming the part at fault.
    public init(url: String) throws(AMQPError) {
        self = try AMQPURI.parse(url)
    }

    /// A configuration whose endpoints come from every URI, in order; credentials, virtual host
    /// and options come from the first. The others may leave out the query options but may not
    /// contradict the first in anything but host and port.
    public init(urls: [String]) throws(AMQPError) {
        guard let first = urls.first else {
            throw AMQPError(.invalidConfiguration, "no broker URI given")
        }
        self = try AMQPURI.parse(first)
        for (index, url) in urls.enumerated().dropFirst() {
            var other = try AMQPURI.parse(url)
            let endpoints = other.endpoints
            // A later URI may leave out the options (the first's apply); if it has any, they must agree.
            if !url.contains("?") {
                other.heartbeat = heartbeat
                other.frameMax = frameMax
                other.channelMax = channelMax
                other.connectionTimeout = connectionTimeout
                other.authMechanisms = authMechanisms
                other.connectionName = connectionName
            }
            other.endpoints = self.endpoints
            guard other == self else {
                throw AMQPError(
                    .invalidConfiguration,
                    "broker URI \(index + 1) names other credentials, virtual host or options than the first; only host and port may differ"
                )
            }
            self.endpoints.append(contentsOf: endpoints)
        }
    }

    /// Checks values the broker would refuse, before any connection is made.
    public func validate() throws(AMQPError) {
        guard !endpoints.isEmpty else { throw AMQPError(.invalidConfiguration, "no endpoints to connect to") }
        for endpoint in endpoints where !(1...65535).contains(endpoint.port) || endpoint.host.isEmpty {
            throw AMQPError(.invalidConfiguration, "endpoint \(endpoint) needs a host and a port from 1 to 65535")
        }
        guard frameMax == 0 || frameMax >= TuneNegotiation.minimumFrameMax else {
            throw AMQPError(.invalidConfiguration, "frameMax \(frameMax) is below the minimum of 8192")
        }
        guard !authMechanisms.isEmpty else { throw AMQPError(.invalidConfiguration, "no auth mechanisms allowed") }
        guard maxMessageSize >= 0 else { throw AMQPError(.invalidConfiguration, "maxMessageSize is negative") }
        guard deliveryCoalescing >= .zero && deliveryCoalescing <= .milliseconds(10) else {
            throw AMQPError(.invalidConfiguration, "deliveryCoalescing must be from 0 to 10 ms")
        }
        guard connectionTimeout > .zero else {
            throw AMQPError(.invalidConfiguration, "connectionTimeout must be positive")
        }
        guard virtualHost.utf8.count <= 255 else {
            throw AMQPError(.invalidConfiguration, "the virtual host name is longer than 255 bytes")
        }
        guard (connectionName?.utf8.count ?? 0) <= 65535 else {
            throw AMQPError(.invalidConfiguration, "the connection name is longer than 65535 bytes")
        }
    }
}
