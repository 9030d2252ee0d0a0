// amqp-bench: AMQPWire's throughput benchmark (see --help).
import AMQPWire
import Foundation

do {
    guard let options = try Options.parse(Array(CommandLine.arguments.dropFirst())) else {
        print(Options.usage)
        exit(0)
    }
    if options.isLoadMode {
        try await LoadBenchmark(options: options).run()
    } else {
        try await PhasesBenchmark(options: options).run()
    }
} catch let error as Options.UsageError {
    FileHandle.standardError.write(Data("amqp-bench: \(error)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("amqp-bench: \(error)\n".utf8))
    exit(1)
}
