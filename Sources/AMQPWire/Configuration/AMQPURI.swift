/// Parses AMQP URIs as RabbitMQ's URI spec defines them
/// (https://www.rabbitmq.com/docs/uri-spec, https://www.rabbitmq.com/docs/uri-query-parameters):
///
///     amqp://user:pass@host:port/vhost?heartbeat=10&connection_timeout=5000
///
/// Every part is percent-decoded (`%2f` is `/`, so `/%2f` is the default virtual host `/`).
/// A missing part takes RabbitMQ's default; an empty path or a bare `/` also means the default
/// virtual host, as pika and amqp091-go read it. Errors name the part at fault.
enum AMQPURI {
    static let parameters = [
        "heartbeat", "frame_max", "channel_max", "connection_timeout", "auth_mechanism", "connection_name",
    ]

    static func parse(_ uri: String) throws(AMQPError) -> AMQPConnectionConfiguration {
        func fail(_ message: String) -> AMQPError {
            AMQPError(.invalidConfiguration, "invalid AMQP URI '\(redacted(uri))': \(message)")
        }
        var config = AMQPConnectionConfiguration()
        guard let schemeEnd = uri.range(of: "://") else { throw fail("it must start with amqp://") }
        let scheme = uri[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "amqp" else {
            if scheme == "amqps" { throw fail("amqps (TLS) is not supported by this client; use amqp") }
            throw fail("the scheme '\(scheme)' is not amqp")
        }
        var rest = uri[schemeEnd.upperBound...]
        if rest.contains("#") { throw fail("a fragment (#...) has no meaning in an AMQP URI") }
        var query: Substring = ""
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        let authority: Substring
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        } else {
            authority = rest
        }

        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                config.username = try decode(userInfo[..<colon], part: "username", fail)
                config.password = try decode(userInfo[userInfo.index(after: colon)...], part: "password", fail)
            } else {
                // No password: it keeps its default, as RabbitMQ's URI spec says (`amqp://user@`).
                config.username = try decode(userInfo, part: "username", fail)
            }
        }

        var host = ""
        var portText: Substring? = nil
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("the IPv6 host has no closing ']'") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw fail("unexpected '\(after)' after the IPv6 host") }
                portText = after.dropFirst()
            }
            guard host.contains(":") else { throw fail("'[\(host)]' is not an IPv6 address") }
        } else {
            if let colon = hostPort.lastIndex(of: ":") {
                host = try decode(hostPort[..<colon], part: "host", fail)
                portText = hostPort[hostPort.index(after: colon)...]
            } else {
                host = try decode(hostPort, part: "host", fail)
            }
            guard !host.contains(":") else {
                throw fail("the host '\(host)' contains ':'; write an IPv6 address in brackets, as [::1]")
            }
        }
        var port = 5672
        if let portText, !portText.isEmpty {
            guard let value: Int = number(portText), (1...65535).contains(value) else {
                // "user:pa/ss@host" splits at the raw '/': what looks like a port is part of a
                // password. Say so without quoting anything that may be a secret.
                if uri[schemeEnd.upperBound...].contains("@") && !authority.contains("@") {
                    throw AMQPError(
                        .invalidConfiguration,
                        "invalid AMQP URI: the user info or the port is malformed; a '/', '?' or '#' in a username or password must be percent-encoded (%2F, %3F, %23)"
                    )
                }
                throw fail("the port '\(portText)' is not a number from 1 to 65535")
            }
            port = value
        }
        config.endpoints = [.init(host: host.isEmpty ? "localhost" : host, port: port)]

        if let path, !path.isEmpty {
            guard !path.contains("/") else {
                throw fail("the virtual host '\(path)' contains '/'; write a slash in the name as %2f")
            }
            config.virtualHost = try decode(path, part: "virtual host", fail)
        }

        var authMechanismSeen = false
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = try decode(parts[0], part: "query parameter name", fail)
            let value = parts.count > 1 ? try decode(parts[1], part: "query parameter \(key)", fail) : ""
            switch key {
            case "heartbeat":
                guard let v: UInt16 = number(value) else {
                    throw fail("heartbeat '\(value)' is not seconds from 0 to 65535")
                }
                config.heartbeat = v
            case "frame_max":
                guard let v: UInt32 = number(value), v == 0 || v >= TuneNegotiation.minimumFrameMax else {
                    throw fail("frame_max '\(value)' is not a byte count of at least 8192 (or 0)")
                }
                config.frameMax = v
            case "channel_max":
                guard let v: UInt16 = number(value) else {
                    throw fail("channel_max '\(value)' is not a number from 0 to 65535")
                }
                config.channelMax = v
            case "connection_timeout":
                guard let v: Int = number(value), v > 0 else {
                    throw fail("connection_timeout '\(value)' is not a positive number of milliseconds")
                }
                config.connectionTimeout = .milliseconds(v)
            case "auth_mechanism":
                guard let mechanism = AuthMechanism(name: value) else {
                    throw fail("auth_mechanism '\(value)' is not one of plain, amqplain, external")
                }
                // The parameter may repeat: the mechanisms are tried in the order given.
                if !authMechanismSeen {
                    authMechanismSeen = true
                    config.authMechanisms = []
                }
                if !config.authMechanisms.contains(mechanism) { config.authMechanisms.append(mechanism) }
            case "connection_name":
                config.connectionName = value
            default:
                throw fail("unknown query parameter '\(key)' (supported: \(parameters.joined(separator: ", ")))")
            }
        }
        return config
    }

    private static func decode(
        _ text: Substring, part: String, _ fail: (String) -> AMQPError
    ) throws(AMQPError) -> String {
        guard text.contains("%") else { return String(text) }
        var bytes: [UInt8] = []
        var utf8 = text.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = utf8.popFirst().flatMap(hexValue), let low = utf8.popFirst().flatMap(hexValue) else {
                throw fail("the \(part) has a '%' not followed by two hex digits")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else {
            throw fail("the \(part) does not decode to UTF-8")
        }
        return decoded
    }

    /// Decimal digits only: `Int("+5")` would also take a sign.
    private static func number<T: FixedWidthInteger>(_ text: some StringProtocol) -> T? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return T(text)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// The URI with its password hidden, for error messages and logs.
    static func redacted(_ uri: String) -> String {
        guard let schemeEnd = uri.range(of: "://") else { return uri }
        let afterScheme = uri[schemeEnd.upperBound...]
        let authorityEnd = afterScheme.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? afterScheme.endIndex
        let authority = afterScheme[..<authorityEnd]
        guard let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") else {
            return uri
        }
        return String(uri[..<authority.index(after: colon)]) + "***" + String(uri[at...])
    }
}
