public import Foundation

/// One log record as a handler receives it.
public struct LogRecord: Sendable {
    public var time: Date
    public var level: LogLevel
    /// Who logged it, e.g. `email-service` or `messaging.consumer`.
    public var label: String
    public var message: String
    public var metadata: [String: String]

    public init(time: Date, level: LogLevel, label: String, message: String, metadata: [String: String]) {
        self.time = time
        self.level = level
        self.label = label
        self.message = message
        self.metadata = metadata
    }
}

/// Where log records go. Implement it to route logs elsewhere (a file, a collector, a test).
public protocol LogHandler: Sendable {
    func write(_ record: LogRecord)
}

/// A small structured logger: a label, a minimum level, metadata attached to every record, and a
/// handler that writes records (stderr unless told otherwise).
///
/// ```swift
/// var log = Logger(label: "email-service")
/// log[metadata: "queue"] = "emails"
/// log.info("consuming", metadata: ["prefetch": "10"])
/// ```
///
/// Messages below `level` are not built: the message is an autoclosure.
public struct Logger: Sendable {
    public var label: String
    public var level: LogLevel
    public var metadata: [String: String]
    public var handler: any LogHandler

    public init(label: String, level: LogLevel = .info, handler: any LogHandler = StandardErrorLogHandler()) {
        self.label = label
        self.level = level
        self.metadata = [:]
        self.handler = handler
    }

    public subscript(metadata key: String) -> String? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// A copy with a different label and the same level, metadata and handler.
    public func labelled(_ label: String) -> Logger {
        var copy = self
        copy.label = label
        return copy
    }

    public func log(_ level: LogLevel, _ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        guard level >= self.level else { return }
        let merged = metadata.isEmpty ? self.metadata : self.metadata.merging(metadata) { _, new in new }
        handler.write(LogRecord(time: Date(), level: level, label: label, message: message(), metadata: merged))
    }

    public func trace(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.trace, message(), metadata: metadata)
    }
    public func debug(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.debug, message(), metadata: metadata)
    }
    public func info(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.info, message(), metadata: metadata)
    }
    public func notice(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.notice, message(), metadata: metadata)
    }
    public func warning(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.warning, message(), metadata: metadata)
    }
    public func error(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.error, message(), metadata: metadata)
    }
    public func critical(_ message: @autoclosure () -> String, metadata: [String: String] = [:]) {
        log(.critical, message(), metadata: metadata)
    }
}
