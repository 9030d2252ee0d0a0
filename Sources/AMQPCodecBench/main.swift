// amqp-codec-bench: micro-benchmarks of the AMQPWire codec (no broker, no I/O).
//
//   amqp-codec-bench                      time every case (best of 5 runs), in ns per operation
//   amqp-codec-bench --case NAME --iterations N
//                                         run one case N times untimed (scripts/bench-codec.sh runs
//                                         this under valgrind to count allocations per operation)
import AMQPWire
import BenchSupport
import Foundation

/// One codec operation, set up once and repeated.
struct Case {
    let name: String
    let run: (Int) -> Int  // iterations → a checksum, so the optimizer cannot drop the work
}

let body100 = [UInt8](repeating: 0x61, count: 100)
let properties = BasicProperties(
    contentType: "application/json", headers: ["x-trace": "abc", "x-attempt": .int32(1)], deliveryMode: 2,
    messageID: "4b2c6f0e", timestamp: AMQPTimestamp(secondsSince1970: 1_700_000_000), type: "email.command")
let headers: FieldTable = [
    "x-trace": "00-4bf92f3577b34da6-00f067aa0ba902b7-01", "x-attempt": .int32(3), "x-delay": .int64(5000),
    "x-first-death-queue": "emails", "x-ok": true, "x-ratio": .double(0.5),
]

func encodedDelivery() -> [UInt8] {
    var buffer = WireBuffer()
    let deliver = AMQPMethod.basic(
        .deliver(
            .init(consumerTag: "amq.ctag-1", deliveryTag: 42, redelivered: false, exchange: "", routingKey: "emails")))
    try! AMQPFrameEncoder.encodeContent(
        deliver, channel: 1, properties: properties, body: body100, frameMax: 131_072, into: &buffer)
    return buffer.readableBytesArray
}

let cases: [Case] = [
    Case(name: "encode-publish-100B") { iterations in
        var buffer = WireBuffer(capacity: 1 << 16)
        let publish = AMQPMethod.basic(.publish(.init(exchange: "", routingKey: "emails")))
        var total = 0
        for _ in 0..<iterations {
            try! AMQPFrameEncoder.encodeContent(
                publish, channel: 1, properties: properties, body: body100, frameMax: 131_072, into: &buffer)
            total &+= buffer.readableBytes
            buffer.clear()
        }
        return total
    },
    Case(name: "decode-delivery-100B") { iterations in
        let bytes = encodedDelivery()
        let decoder = AMQPFrameDecoder()
        var buffer = WireBuffer(capacity: bytes.count)
        var total = 0
        for _ in 0..<iterations {
            buffer.clear()
            buffer.writeBytes(bytes)
            while let frame = try! decoder.decodeFrame(from: &buffer) {
                if case .body(_, let body) = frame { total &+= body.count }
            }
        }
        return total
    },
    Case(name: "encode-field-table") { iterations in
        var buffer = WireBuffer(capacity: 1024)
        var total = 0
        for _ in 0..<iterations {
            try! buffer.writeFieldTable(headers)
            total &+= buffer.readableBytes
            buffer.clear()
        }
        return total
    },
    Case(name: "decode-field-table") { iterations in
        var buffer = WireBuffer()
        try! buffer.writeFieldTable(headers)
        let bytes = buffer.readableBytesArray
        var total = 0
        for _ in 0..<iterations {
            var reader = ByteReader(bytes)
            total &+= try! reader.readFieldTable().count
        }
        return total
    },
]

@MainActor func usage() -> Never {
    FileHandle.standardError.write(
        Data(
            "usage: amqp-codec-bench [--case NAME --iterations N]\ncases: \(cases.map(\.name).joined(separator: ", "))\n"
                .utf8))
    exit(2)
}

var arguments = Array(CommandLine.arguments.dropFirst())
if !arguments.isEmpty {
    guard arguments.count == 4, arguments[0] == "--case", arguments[2] == "--iterations",
        let chosen = cases.first(where: { $0.name == arguments[1] }), let iterations = Int(arguments[3]),
        iterations >= 0
    else { usage() }
    print(chosen.run(iterations))
    exit(0)
}

for c in cases {
    let iterations = 200_000
    _ = c.run(iterations / 10)  // warm up
    var best = Double.infinity
    for _ in 0..<5 {
        let clock = Stopwatch()
        _ = c.run(iterations)
        best = min(best, clock.seconds * 1e9 / Double(iterations))
    }
    let name = c.name.padding(toLength: 24, withPad: " ", startingAt: 0)
    print(name + String(format: "%8.1f ns/op", best))
}
