import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Writes one line per record to standard error:
/// `2026-11-24T09:15:02.114Z info email-service: email sent id=42 recipient="a b"`.
///
/// Control characters in messages and values are escaped, so input data cannot forge log lines.
/// Lines are written whole with one `write(2)`, so concurrent loggers do not interleave.
public struct StandardErrorLogHandler: LogHandler {
    public init() {}

    public func write(_ record: LogRecord) {
        var line = LogFormat.line(for: record)
        line.append("\n")
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(2, base + offset, raw.count - offset)
                if n <= 0 {
                    if n < 0 && errno == EINTR { continue }
                    return
                }
                offset += n
            }
        }
    }
}

/// The plain text form of a record, shared by the stderr handler and tests.
public enum LogFormat {
    public static func line(for record: LogRecord) -> String {
        var line = timestamp(record.time)
        line += " \(record.level) \(record.label): \(escape(record.message))"
        for key in record.metadata.keys.sorted() {
            line += " \(key)=\(quoted(record.metadata[key] ?? ""))"
        }
        return line
    }

    /// Escapes control characters (CR, LF, tab, ...) so one record is always one line.
    public static func escape(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func quoted(_ value: String) -> String {
        let escaped = escape(value)
        let needsQuotes = escaped.isEmpty || escaped.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
        guard needsQuotes else { return escaped }
        return "\"" + escaped.replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(milliseconds % 1000))
    }
}
