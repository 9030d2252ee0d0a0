public import Observability

extension OptionSpec {
    /// `--log-level` / `$LOG_LEVEL`, shared by the services.
    public static let logLevel = OptionSpec(
        "log-level", environment: ["LOG_LEVEL"], help: "trace, debug, info, notice, warning, error.",
        defaultValue: "info")
}

extension ParsedOptions {
    /// The `--log-level` setting, or a clear error.
    public func logLevel() throws(ConfigurationError) -> LogLevel {
        guard let level = LogLevel(name: self["log-level"] ?? "info") else {
            throw ConfigurationError("\(source("log-level")) must be trace, debug, info, notice, warning or error")
        }
        return level
    }

    /// A queue name setting: 1 to 200 bytes and not in the broker's reserved `amq.` space.
    public func queueName(_ name: String) throws(ConfigurationError) -> String? {
        guard let queue = self[name] else { return nil }
        guard !queue.isEmpty, queue.utf8.count <= 200, !queue.hasPrefix("amq.") else {
            throw ConfigurationError("\(source(name)) must be a queue name (1 to 200 bytes, not amq.*)")
        }
        return queue
    }
}
