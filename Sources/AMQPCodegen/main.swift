// amqp-codegen: regenerates the AMQP method code from the spec XML.
//
//   swift run amqp-codegen [--check] [REPO_ROOT]
//
// Writes the files under Sources/AMQPWire/Generated and Tests/AMQPWireTests/Generated. With --check
// it writes nothing and exits 1 when a committed file differs from what would be generated.
import AMQPCodegenCore
import Foundation

var arguments = Array(CommandLine.arguments.dropFirst())
let check = arguments.contains("--check")
arguments.removeAll { $0 == "--check" }
if arguments.contains(where: { $0.hasPrefix("-") }) {
    FileHandle.standardError.write(Data("usage: amqp-codegen [--check] [REPO_ROOT]\n".utf8))
    exit(2)
}
let root = URL(fileURLWithPath: arguments.first ?? FileManager.default.currentDirectoryPath)

do {
    let files = try Codegen.generate(repositoryRoot: root)
    var stale: [String] = []
    for file in files {
        let url = root.appendingPathComponent(file.path)
        let current = try? String(contentsOf: url, encoding: .utf8)
        guard current != file.contents else { continue }
        stale.append(file.path)
        if !check {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.contents.utf8).write(to: url)
        }
    }
    if check && !stale.isEmpty {
        print("out of date (run `swift run amqp-codegen`):\n  " + stale.joined(separator: "\n  "))
        exit(1)
    }
    print(stale.isEmpty ? "generated code is up to date" : "wrote \(stale.count) files")
} catch {
    FileHandle.standardError.write(Data("amqp-codegen: \(error)\n".utf8))
    exit(1)
}
