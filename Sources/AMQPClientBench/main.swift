// amqp-client-bench: what AMQPWire itself costs per message, with no broker.
//
//   amqp-client-bench [--messages N] [--size BYTES] [--rounds R] [--phase consume|publish|confirmed-publish]
//                     [--properties]
//
// A scripted server in this process (LoopbackServer) stands in for RabbitMQ on a loopback port.
// For each phase the client does what amqp-bench's phases do (consume with prefetch 1000 and a
// multiple ack every 100; publish; publish with confirms, window 1000), and the client's CPU per
// message is the process's CPU time less the server thread's. Unlike ../shared/bench/compare,
// whose rates depend mostly on the broker, these figures move only when the client changes:
// the tool to judge a client optimisation with. Prints the median of R rounds per phase.
// Messages carry no properties, as in compare's phases; with --properties every message (both
// ways) carries six typical ones (`Options.sampleProperties`).
import AMQPWire
import BenchSupport
import Foundation

struct Options {
    var messages = 200_000
    var size = 100
    var rounds = 5
    var phases = Phase.allCases
    var properties = BasicProperties()

    /// What --properties puts on every message: a content type, persistence, a message id, a
    /// timestamp, an app id and one header.
    static let sampleProperties = BasicProperties(
        contentType: "application/json", headers: ["trace-id": .string("4bf92f3577b34da6")], deliveryMode: 2,
        messageID: "order-000123", timestamp: AMQPTimestamp(secondsSince1970: 1_800_000_000),
        appID: "amqp-client-bench")

    static func parse(_ arguments: [String]) -> Result<Options, BenchFailure> {
        var options = Options()
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            if flag == "--phase" {
                guard let name = rest.popFirst(), let phase = Phase(rawValue: name) else {
                    return .failure(BenchFailure(description: "--phase takes consume, publish or confirmed-publish"))
                }
                options.phases = [phase]
                continue
            }
            if flag == "--properties" {
                options.properties = sampleProperties
                continue
            }
            guard let text = rest.popFirst(), let value = Int(text), value >= (flag == "--size" ? 0 : 1) else {
                return .failure(
                    BenchFailure(description: "\(flag) needs a whole number (see the header of main.swift)"))
            }
            switch flag {
            case "--messages": options.messages = value
            case "--size": options.size = min(value, 64 << 20)
            case "--rounds": options.rounds = value
            default: return .failure(BenchFailure(description: "unknown option '\(flag)'"))
            }
        }
        return .success(options)
    }
}

enum Phase: String, CaseIterable {
    case consume, publish
    case confirmedPublish = "confirmed-publish"
}

struct Measurement {
    var rate: Double
    var clientMicroseconds: Double
}

/// One phase against a fresh loopback server.
func measure(_ phase: Phase, _ options: Options) async throws -> Measurement {
    let server = try LoopbackServer(
        deliveries: options.messages, bodySize: options.size, properties: options.properties)
    server.start()
    let n = options.messages
    let cpu0 = CPUTime.process()
    let clock = Stopwatch()
    let connection = try await AMQPConnection.connect(url: "amqp://guest:guest@127.0.0.1:\(server.port)/%2f")
    let channel = try await connection.openChannel()
    let body = [UInt8](repeating: 0x61, count: options.size)
    switch phase {
    case .consume:
        try await channel.setPrefetch(count: 1000)
        let consumer = try await channel.consume(queue: "loopback", bufferCapacity: 1024)
        var received = 0
        for try await delivery in consumer {
            received += 1
            if received % 100 == 0 || received == n { try delivery.ack(multiple: true) }
            if received == n { break }
        }
        try await consumer.cancel()
    case .publish:
        for _ in 0..<n { try await channel.publish(body, routingKey: "loopback", properties: options.properties) }
    case .confirmedPublish:
        try await channel.enablePublisherConfirms(window: 1000)
        var last: PublishConfirmation?
        for _ in 0..<n {
            last = try await channel.publish(body, routingKey: "loopback", properties: options.properties)
        }
        try await last?.wait()
    }
    try await connection.close()
    let serverCPU = try server.finish().get()
    let seconds = clock.seconds
    if phase != .consume && server.publishesReceived != n {
        throw BenchFailure(description: "the server received \(server.publishesReceived) of \(n) publishes")
    }
    return Measurement(
        rate: Double(n) / seconds, clientMicroseconds: (CPUTime.process() - cpu0 - serverCPU) / Double(n) * 1e6)
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1
        ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

do {
    let options = try Options.parse(Array(CommandLine.arguments.dropFirst())).get()
    let described = options.properties == BasicProperties() ? "" : ", with properties"
    print(
        "amqp-client-bench: \(options.messages) messages of \(options.size) B\(described), median of \(options.rounds) rounds"
    )
    for phase in options.phases {
        var results: [Measurement] = []
        for _ in 0..<options.rounds { results.append(try await measure(phase, options)) }
        let name = phase.rawValue.padding(toLength: 18, withPad: " ", startingAt: 0)
        let line = String(
            format: "%@ %9.0f msg/s  %6.2f us client CPU/msg  (CPU per round: %@)", name,
            median(results.map(\.rate)), median(results.map(\.clientMicroseconds)),
            results.map { String(format: "%.2f", $0.clientMicroseconds) }.joined(separator: " "))
        print(line)
    }
} catch {
    FileHandle.standardError.write(Data("amqp-client-bench: \(error)\n".utf8))
    exit(1)
}
