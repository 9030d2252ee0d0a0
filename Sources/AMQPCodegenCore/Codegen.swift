public import Foundation

/// The generator's entry point, shared by the executable and the up-to-date test.
public enum Codegen {
    public static let mainSpec = "Specs/amqp0-9-1.stripped.extended.xml"
    public static let extensionSpecs = ["Specs/rabbitmq-extensions.xml"]

    /// Renders every generated file from the specs under `repositoryRoot`.
    public static func generate(repositoryRoot root: URL) throws -> [(path: String, contents: String)] {
        func load(_ path: String) throws -> XMLElement {
            try MiniXML.parse(String(contentsOf: root.appendingPathComponent(path), encoding: .utf8))
        }
        let spec = try Spec(main: load(mainSpec), extensions: extensionSpecs.map(load))
        return Renderer(spec: spec, specNames: [mainSpec] + extensionSpecs).render()
    }
}
