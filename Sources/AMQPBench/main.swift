// amqp-bench: AMQPWire's throughput benchmark (see --help).
import AMQPWire
import Foundation

do {
    guard let options = try Options.parse(Array(CommandLine.arguments.dropFirst())) else {
        print(Options.usage)
        exit(0)
    }
    // The workload runs in an ordinary task, as a service's loops do, not on the main actor.
    try await Task.detached {
        if options.isLoadMode {
            try await LoadBenchmark(options: options).run()
        } else {
            try await PhasesBenchmark(options: options).run()
        }
    }.value
} catch let error as Options.UsageError {
    FileHandle.standardError.write(Data("amqp-bench: \(error)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("amqp-bench: \(error)\n".utf8))
    exit(1)
}
