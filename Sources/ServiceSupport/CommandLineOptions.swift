/// One setting an executable accepts, from a flag or an environment variable.
public struct OptionSpec: Sendable {
    public var name: String
    /// Environment variables that set it, in order of precedence (the first set one wins).
    public var environment: [String]
    public var help: String
    /// Shown in `--help`; nil for a setting with no default.
    public var defaultValue: String?
    /// A switch (`--verbose`) rather than a setting with a value (`--port 8080`).
    public var isSwitch: Bool
    /// Never echoed back (passwords): `--help` shows no default and errors do not quote the value.
    public var isSecret: Bool

    public init(
        _ name: String, environment: [String] = [], help: String, defaultValue: String? = nil, isSwitch: Bool = false,
        isSecret: Bool = false
    ) {
        self.name = name
        self.environment = environment
        self.help = help
        self.defaultValue = defaultValue
        self.isSwitch = isSwitch
        self.isSecret = isSecret
    }
}

/// A configuration the user got wrong: printed as is, then the process exits with status 2.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Settings parsed from the command line and the environment. A flag wins over the environment,
/// the environment over the default.
public struct ParsedOptions: Sendable {
    public let specs: [OptionSpec]
    /// Set by a flag or a variable (not defaults).
    public let explicit: [String: String]
    /// Where each explicit value came from (`--port`, `$MQ_PORT`), for error messages.
    public let sources: [String: String]
    public let helpRequested: Bool

    /// The value of `name`: explicit, else the default, else nil.
    public subscript(name: String) -> String? {
        explicit[name] ?? specs.first { $0.name == name }?.defaultValue
    }

    public func isSet(_ name: String) -> Bool { explicit[name] != nil }

    public func flag(_ name: String) -> Bool {
        guard let value = self[name]?.lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(value)
    }

    /// An integer in `range`, or a clear error naming where the bad value came from.
    public func integer(_ name: String, in range: ClosedRange<Int>) throws(ConfigurationError) -> Int? {
        guard let text = self[name] else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(
                "\(source(name)) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return value
    }

    /// One of `choices`, or a clear error.
    public func choice(_ name: String, _ choices: [String]) throws(ConfigurationError) -> String? {
        guard let text = self[name] else { return nil }
        guard choices.contains(text.lowercased()) else {
            throw ConfigurationError(
                "\(source(name)) must be one of \(choices.joined(separator: ", ")), not '\(text)'")
        }
        return text.lowercased()
    }

    /// How to name the setting in an error: the flag or variable it came from.
    public func source(_ name: String) -> String { sources[name] ?? "--\(name)" }
}

/// Parses `--name value`, `--name=value` and `--switch` arguments, and the environment.
public enum CommandLineParser {
    public static func parse(
        _ arguments: [String], environment: [String: String], specs: [OptionSpec]
    ) throws(ConfigurationError) -> ParsedOptions {
        var explicit: [String: String] = [:]
        var sources: [String: String] = [:]
        for spec in specs {
            for variable in spec.environment {
                if let value = environment[variable], !value.isEmpty {
                    explicit[spec.name] = value
                    sources[spec.name] = "$\(variable)"
                    break
                }
            }
        }
        var help = false
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" {
                help = true
                continue
            }
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw ConfigurationError("unexpected argument '\(argument)' (see --help)")
            }
            var name = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = specs.first(where: { $0.name == name }) else {
                throw ConfigurationError("unknown option '--\(name)' (see --help)")
            }
            if spec.isSwitch {
                explicit[name] = inlineValue ?? "true"
            } else if let inlineValue {
                explicit[name] = inlineValue
            } else {
                guard index < arguments.count, !arguments[index].hasPrefix("--") else {
                    throw ConfigurationError("option '--\(name)' needs a value (see --help)")
                }
                explicit[name] = arguments[index]
                index += 1
            }
            sources[name] = "--\(name)"
        }
        return ParsedOptions(specs: specs, explicit: explicit, sources: sources, helpRequested: help)
    }

    /// The `--help` text: usage, then every option with its variables and default.
    public static func usage(command: String, summary: String, specs: [OptionSpec]) -> String {
        var text = "\(summary)\n\nUsage: \(command) [options]\n\nOptions:\n"
        for spec in specs {
            let flag = spec.isSwitch ? "--\(spec.name)" : "--\(spec.name) VALUE"
            text += "  \(flag)\n      \(spec.help)"
            if !spec.environment.isEmpty {
                text += "\n      Environment: \(spec.environment.map { "$\($0)" }.joined(separator: ", "))"
            }
            if let value = spec.defaultValue, !spec.isSecret { text += "\n      Default: \(value)" }
            text += "\n"
        }
        text += "  --help\n      Show this help.\n"
        return text
    }
}
