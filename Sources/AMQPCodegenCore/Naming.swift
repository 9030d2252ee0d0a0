/// Spec names (`start-ok`, `correlation-id`) to Swift names (`StartOk`, `correlationID`).
enum Naming {
    /// Spec field names renamed for Swift: `nowait` matches the other methods' `no-wait`, and the
    /// basic class's `reserved` property is the deprecated cluster-id.
    static let fieldRenames: [String: String] = ["nowait": "no-wait", "reserved": "cluster-id"]

    static func words(_ name: String) -> [String] {
        (fieldRenames[name] ?? name).split(separator: "-").map(String.init)
    }

    static func upperCamel(_ name: String) -> String {
        words(name).map { $0 == "id" ? "ID" : $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static func lowerCamel(_ name: String) -> String {
        let parts = words(name)
        guard let first = parts.first else { return name }
        return first + parts.dropFirst().map { $0 == "id" ? "ID" : $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
    }

    static let keywords: Set<String> = ["return", "import", "default", "class", "protocol", "internal", "public"]

    /// A lowerCamel name usable as an identifier (keywords in backticks).
    static func identifier(_ name: String) -> String {
        let id = lowerCamel(name)
        return keywords.contains(id) ? "`\(id)`" : id
    }

    static func swiftType(_ type: String) -> String {
        switch type {
        case "bit": "Bool"
        case "octet": "UInt8"
        case "short": "UInt16"
        case "long": "UInt32"
        case "longlong": "UInt64"
        case "shortstr": "String"
        case "longstr": "[UInt8]"
        case "timestamp": "AMQPTimestamp"
        case "table": "FieldTable"
        default: fatalError("unknown primitive \(type)")  // Spec.init already rejected it.
        }
    }

    static func defaultValue(_ type: String) -> String {
        switch type {
        case "bit": "false"
        case "octet", "short", "long", "longlong": "0"
        case "shortstr": "\"\""
        case "longstr": "[]"
        case "timestamp": "AMQPTimestamp(secondsSince1970: 0)"
        case "table": "[:]"
        default: fatalError("unknown primitive \(type)")
        }
    }
}
