import AMQPCodegenCore
import Foundation
import Testing

@Suite struct GeneratedCodeIsCurrentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    @Test func committedGeneratedFilesMatchTheGenerator() throws {
        let files = try Codegen.generate(repositoryRoot: Self.root)
        #expect(files.count >= 10)
        for file in files {
            let committed = try String(contentsOf: Self.root.appendingPathComponent(file.path), encoding: .utf8)
            #expect(committed == file.contents, "\(file.path) is stale: run `swift run amqp-codegen`")
        }
    }

    @Test func everySpecMethodIsGenerated() throws {
        let files = try Codegen.generate(repositoryRoot: Self.root)
        let all = files.map(\.contents).joined()
        // 60 methods in the extended spec plus 4 RabbitMQ extensions.
        let ids = all.components(separatedBy: "public static let id = AMQPMethodID.").count - 1
        #expect(ids == 64)
        for name in [
            "connectionBlocked", "connectionUnblocked", "connectionUpdateSecret", "basicNack", "confirmSelect",
            "exchangeBind",
        ] {
            #expect(all.contains("AMQPMethodID.\(name)"), "missing \(name)")
        }
    }

    @Test func malformedXMLIsAClearError() {
        #expect(throws: XMLParseError.self) { try MiniXML.parse("<amqp><class name=\"x\"></amqp>") }
        #expect(throws: XMLParseError.self) { try MiniXML.parse("<amqp attr=unquoted/>") }
    }
}
