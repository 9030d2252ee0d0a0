/// The parts of the AMQP spec XML the generator uses.
public struct Spec: Sendable {
    public struct Constant: Sendable {
        public var name: String
        public var value: Int
        public var errorClass: String?
    }

    public struct Field: Sendable {
        public var name: String
        /// The primitive type: bit, octet, short, long, longlong, shortstr, longstr, timestamp, table.
        public var type: String
        public var reserved: Bool
    }

    public struct Method: Sendable {
        public var name: String
        public var index: Int
        public var synchronous: Bool
        public var hasContent: Bool
        public var responses: [String]
        public var fields: [Field]
        /// In an extension file: adds responses and synchronous to the method of that name.
        public var amends = false
    }

    public struct Class: Sendable {
        public var name: String
        public var index: Int
        /// Content properties (only basic has any).
        public var properties: [Field]
        public var methods: [Method]
    }

    public var constants: [Constant]
    public var classes: [Class]

    static let primitives: Set<String> = [
        "bit", "octet", "short", "long", "longlong", "shortstr", "longstr", "timestamp", "table",
    ]

    /// Reads the main spec, then merges the methods of each extension file's classes into it.
    public init(main: XMLElement, extensions: [XMLElement] = []) throws {
        var domains: [String: String] = [:]
        for domain in main.children(named: "domain") {
            guard let name = domain.attribute("name"), let type = domain.attribute("type") else {
                throw SpecError("a domain without a name or type")
            }
            domains[name] = type
        }
        func field(_ element: XMLElement) throws -> Field {
            guard let name = element.attribute("name") else { throw SpecError("a field without a name") }
            let declared = element.attribute("type") ?? element.attribute("domain") ?? ""
            let type = domains[declared] ?? declared
            guard Spec.primitives.contains(type) else {
                throw SpecError("field \(name) has unknown type or domain '\(declared)'")
            }
            return Field(name: name, type: type, reserved: element.attribute("reserved") == "1")
        }
        func parseClasses(of root: XMLElement) throws -> [Class] {
            try root.children(named: "class").map { element in
                guard let name = element.attribute("name"), let index = Int(element.attribute("index") ?? "") else {
                    throw SpecError("a class without a name or index")
                }
                let methods = try element.children(named: "method").map { m in
                    guard let mname = m.attribute("name"), let mindex = Int(m.attribute("index") ?? "") else {
                        throw SpecError("a method of \(name) without a name or index")
                    }
                    return Method(
                        name: mname, index: mindex, synchronous: m.attribute("synchronous") == "1",
                        hasContent: m.attribute("content") == "1",
                        responses: m.children(named: "response").compactMap { $0.attribute("name") },
                        fields: try m.children(named: "field").map(field), amends: m.attribute("amend") == "1")
                }
                return Class(
                    name: name, index: index, properties: try element.children(named: "field").map(field),
                    methods: methods)
            }
        }
        constants = try ([main] + extensions).flatMap { $0.children(named: "constant") }.map { c in
            guard let name = c.attribute("name"), let value = Int(c.attribute("value") ?? "") else {
                throw SpecError("a constant without a name or value")
            }
            return Constant(name: name, value: value, errorClass: c.attribute("class"))
        }
        var merged = try parseClasses(of: main)
        for ext in extensions {
            for extra in try parseClasses(of: ext) {
                guard let i = merged.firstIndex(where: { $0.name == extra.name }) else {
                    merged.append(extra)
                    continue
                }
                for method in extra.methods {
                    if method.amends {
                        guard
                            let j = merged[i].methods.firstIndex(where: {
                                $0.name == method.name && $0.index == method.index
                            })
                        else { throw SpecError("extension amends \(extra.name).\(method.name), which does not exist") }
                        merged[i].methods[j].synchronous = merged[i].methods[j].synchronous || method.synchronous
                        merged[i].methods[j].responses += method.responses
                        continue
                    }
                    guard !merged[i].methods.contains(where: { $0.index == method.index || $0.name == method.name })
                    else { throw SpecError("extension method \(extra.name).\(method.name) is already defined") }
                    merged[i].methods.append(method)
                }
            }
        }
        classes = merged
        constants.sort { $0.value < $1.value }
    }
}

public struct SpecError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
