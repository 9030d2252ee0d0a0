import AMQPWire
import Foundation

/// amqp-bench's command line, parsed by hand (the package takes no dependencies).
struct Options {
    var messages = 100_000
    var size = 100
    var confirmWindow = 1000
    var prefetch: UInt16 = 1000
    var multiAckEvery = 100
    var producers = 0
    var consumers = 0
    var duration: Int?
    /// Phases mode: a phase running longer than this prints a progress line this often (stderr).
    var progressSeconds = 3.0
    var uri = ProcessInfo.processInfo.environment["AMQP_URL"] ?? "amqp://guest:guest@127.0.0.1:5672/%2f"
    var queue = "amqp_bench"
    var name = "amqpwire"
    /// The client's delivery coalescing; nil leaves the library's default.
    var deliveryCoalescing: Duration?

    /// The load mode runs producers and consumers at once for a duration, as RabbitMQ's PerfTest does;
    /// without those flags amqp-bench runs the publish, consume and confirmed-publish phases.
    var isLoadMode: Bool { producers > 0 || consumers > 0 || duration != nil }

    static let usage = """
        usage: amqp-bench [options]

        Phases (the default): publish MESSAGES to a fresh queue (timed until the broker holds them
        all), consume them (prefetch, ack with multiple=true every MULTI-ACK-EVERY), then publish
        them again with publisher confirms (at most CONFIRM-WINDOW unconfirmed). Prints
        "<name> <phase> <rate> msg/s" lines, as ../shared/bench/compare expects.

        Load (with --producers, --consumers or --duration): producers and consumers run at once
        for DURATION seconds (default 10), printing a progress line every second.

          --messages N         messages per phase (default 100000)
          --size BYTES         message body size (default 100)
          --confirm-window N   unconfirmed publishes allowed at once; 0 disables confirms in load mode (default 1000)
          --prefetch N         consumer prefetch, 0 to 65535 (default 1000)
          --multi-ack-every N  ack with multiple=true every N deliveries (default 100)
          --producers N        load mode: publishing tasks, each on its own channel (default 1)
          --consumers N        load mode: consumers, each on its own channel (default 1)
          --duration SECONDS   load mode: how long to run (default 10)
          --progress SECONDS   phases mode: a phase running longer than this prints a progress
                               line on stderr this often (default 3; load mode: every second)
          --uri URI            broker (default: $AMQP_URL, else amqp://guest:guest@127.0.0.1:5672/%2f)
          --queue NAME         queue to use (default amqp_bench)
          --name NAME          name printed first on each result line (default amqpwire)
          --delivery-coalescing MICROSECONDS
                               how long the client leaves the socket unread after a read that
                               brought deliveries, 0 to 10000 (default: the library's, 100)
          --help               this text
        """

    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> Options? {
        var options = Options()
        var rest = arguments[...]
        func value(_ flag: String) throws(UsageError) -> String {
            guard let value = rest.popFirst() else { throw UsageError(description: "\(flag) needs a value") }
            return value
        }
        func integer(_ flag: String, atLeast minimum: Int = 0, atMost maximum: Int = .max) throws(UsageError) -> Int {
            let text = try value(flag)
            guard let number = Int(text), number >= minimum, number <= maximum else {
                throw UsageError(
                    description: "\(flag) expects a whole number from \(minimum) to \(maximum), got '\(text)'")
            }
            return number
        }
        while let flag = rest.popFirst() {
            switch flag {
            case "--help", "-h": return nil
            case "--messages": options.messages = try integer(flag, atLeast: 1)
            case "--size": options.size = try integer(flag, atMost: 512 << 20)
            case "--confirm-window": options.confirmWindow = try integer(flag)
            case "--prefetch": options.prefetch = UInt16(try integer(flag, atMost: Int(UInt16.max)))
            case "--multi-ack-every": options.multiAckEvery = try integer(flag, atLeast: 1)
            case "--producers": options.producers = try integer(flag, atMost: 1000)
            case "--consumers": options.consumers = try integer(flag, atMost: 1000)
            case "--duration": options.duration = try integer(flag, atLeast: 1)
            case "--progress":
                let text = try value(flag)
                guard let seconds = Double(text), seconds >= 0.05, seconds <= 3600 else {
                    throw UsageError(description: "--progress expects seconds from 0.05 to 3600, got '\(text)'")
                }
                options.progressSeconds = seconds
            case "--uri":
                options.uri = try value(flag)
                do {
                    _ = try AMQPConnectionConfiguration(url: options.uri)
                } catch {
                    throw UsageError(description: "--uri: \(error.message)")
                }
            case "--queue": options.queue = try value(flag)
            case "--name": options.name = try value(flag)
            case "--delivery-coalescing":
                options.deliveryCoalescing = .microseconds(try integer(flag, atMost: 10_000))
            default: throw UsageError(description: "unknown option '\(flag)' (see --help)")
            }
        }
        if options.isLoadMode {
            if options.producers == 0 && options.consumers == 0 {
                options.producers = 1
                options.consumers = 1
            }
            if options.duration == nil { options.duration = 10 }
        }
        return options
    }

    /// The connection's configuration: the URI, with the options that override its defaults.
    func configuration() throws -> AMQPConnectionConfiguration {
        var configuration = try AMQPConnectionConfiguration(url: uri)
        if let deliveryCoalescing { configuration.deliveryCoalescing = deliveryCoalescing }
        return configuration
    }
}
