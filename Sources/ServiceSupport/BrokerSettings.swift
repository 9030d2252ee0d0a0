public import AMQPWire

/// The broker settings both services accept, with the tutorial's variable names.
///
/// Precedence: `--amqp-url` or `$AMQP_URL` (one or more comma-separated URLs, the cluster's nodes)
/// win over the tutorial's `MQ_HOST`, `MQ_PORT`, `MQ_USERNAME`, `MQ_PASSWORD`; a flag wins over
/// its variable.
public enum BrokerSettings {
    public static let specs: [OptionSpec] = [
        OptionSpec(
            "amqp-url", environment: ["AMQP_URL"],
            help: "Broker URL(s), comma-separated for a cluster (amqp://user:pass@host:port/vhost). Wins over --mq-*.",
            isSecret: true),
        OptionSpec("mq-host", environment: ["MQ_HOST"], help: "Broker host.", defaultValue: "localhost"),
        OptionSpec("mq-port", environment: ["MQ_PORT"], help: "Broker AMQP port.", defaultValue: "5672"),
        OptionSpec("mq-username", environment: ["MQ_USERNAME"], help: "Broker user.", defaultValue: "guest"),
        OptionSpec(
            "mq-password", environment: ["MQ_PASSWORD"], help: "Broker password.", defaultValue: "guest",
            isSecret: true),
    ]

    /// The connection configuration, or a clear error (which never quotes a password).
    public static func configuration(
        from options: ParsedOptions, connectionName: String
    ) throws(ConfigurationError) -> AMQPConnectionConfiguration {
        var config: AMQPConnectionConfiguration
        if let urls = options.explicit["amqp-url"] {
            let list = urls.split(separator: ",").map(trimmed).filter { !$0.isEmpty }
            do {
                config = try AMQPConnectionConfiguration(urls: list)
            } catch {
                // The parser's message names the part that is wrong; the URL itself may hold a password.
                throw ConfigurationError("\(options.source("amqp-url")) is not a valid AMQP URL: \(error.message)")
            }
        } else {
            config = AMQPConnectionConfiguration()
            let host = options["mq-host"] ?? "localhost"
            guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" }) else {
                throw ConfigurationError("\(options.source("mq-host")) is not a host name: '\(host)'")
            }
            let port = try options.integer("mq-port", in: 1...65535) ?? 5672
            config.endpoints = [.init(host: host, port: port)]
            config.username = options["mq-username"] ?? "guest"
            config.password = options["mq-password"] ?? "guest"
        }
        config.connectionName = connectionName
        return config
    }

    /// Where the service connects, without credentials, for logs.
    public static func describe(_ config: AMQPConnectionConfiguration) -> String {
        "\(config.endpoints.map(\.description).joined(separator: ",")) vhost \(config.virtualHost) as \(config.username)"
    }
}

/// `text` without leading and trailing spaces and tabs.
func trimmed(_ text: Substring) -> String {
    var text = text
    while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
    while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
    return String(text)
}
