#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Serializes responses into a connection's output buffer. Runs on the event loop's thread.
enum ResponseWriter {
    /// How the server frames one response.
    struct Framing {
        /// Send the head only (HEAD request).
        var headOnly: Bool
        /// Keep the connection open afterwards; false adds `Connection: close`.
        var keepAlive: Bool
        /// The client spoke HTTP/1.0 and asked for keep-alive: say `Connection: keep-alive`.
        var confirmKeepAlive: Bool
    }

    static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Appends `response` to `output`. Returns false, appending nothing, when a field name, field
    /// value or reason phrase could not be sent safely (a CR or LF in it would let the handler's
    /// data split the response).
    static func write(
        _ response: HTTPResponse, framing: Framing, date: [UInt8], serverName: [UInt8]?, into output: inout [UInt8]
    ) -> Bool {
        guard response.status.code >= 100 && response.status.code <= 999,
            response.status.reasonPhrase.utf8.allSatisfy(ASCII.isFieldValue),
            response.headers.allSatisfy({ field in
                !field.name.isEmpty && field.name.utf8.allSatisfy(ASCII.isToken)
                    && field.value.utf8.allSatisfy(ASCII.isFieldValue)
            })
        else { return false }

        output.append(contentsOf: "HTTP/1.1 ".utf8)
        appendDecimal(response.status.code, to: &output)
        output.append(ASCII.space)
        output.append(contentsOf: response.status.reasonPhrase.utf8)
        output.append(contentsOf: "\r\nDate: ".utf8)
        output.append(contentsOf: date)
        if let serverName {
            output.append(contentsOf: "\r\nServer: ".utf8)
            output.append(contentsOf: serverName)
        }
        output.append(contentsOf: "\r\n".utf8)
        for field in response.headers where !isFramingField(field.name) {
            output.append(contentsOf: field.name.utf8)
            output.append(contentsOf: ": ".utf8)
            output.append(contentsOf: field.value.utf8)
            output.append(contentsOf: "\r\n".utf8)
        }
        let sendsBody = !response.status.forbidsBody
        if sendsBody {
            output.append(contentsOf: "Content-Length: ".utf8)
            appendDecimal(response.body.count, to: &output)
            output.append(contentsOf: "\r\n".utf8)
        }
        if !framing.keepAlive {
            output.append(contentsOf: "Connection: close\r\n".utf8)
        } else if framing.confirmKeepAlive {
            output.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        output.append(contentsOf: "\r\n".utf8)
        if sendsBody && !framing.headOnly { output.append(contentsOf: response.body) }
        return true
    }

    /// Fields the server sets itself.
    private static func isFramingField(_ name: String) -> Bool {
        HTTPHeaders.equalIgnoringCase(name, "Content-Length")
            || HTTPHeaders.equalIgnoringCase(name, "Transfer-Encoding")
            || HTTPHeaders.equalIgnoringCase(name, "Connection") || HTTPHeaders.equalIgnoringCase(name, "Date")
    }

    static func appendDecimal(_ value: Int, to output: inout [UInt8]) {
        if value >= 10 { appendDecimal(value / 10, to: &output) }
        output.append(UInt8(0x30 + value % 10))
    }
}

/// The `Date` field value (IMF-fixdate), formatted once per second.
struct HTTPDateCache {
    private var second: time_t = -1
    private var bytes: [UInt8] = []

    mutating func current() -> [UInt8] {
        let now = time(nil)
        if now != second {
            second = now
            bytes = Self.format(now)
        }
        return bytes
    }

    static func format(_ seconds: time_t) -> [UInt8] {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let text =
            "\(days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon) % 12]) "
            + "\(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return Array(text.utf8)
    }
}
