import AMQPWire
import BenchSupport
import Foundation
import POSIXSockets

#if canImport(Glibc)
    import Glibc
#endif

/// A scripted AMQP server on a loopback port, on a thread of this process: it answers the
/// handshake and the few methods a consumer or publisher sends, streams deliveries to a consumer
/// as fast as its acks let it (within the prefetch), and reads publishes and throws them away.
/// No queues, no routing: what is left to measure is the client. The thread's own CPU time is
/// reported so the caller can subtract it from the process's.
final class LoopbackServer: @unchecked Sendable {
    // @unchecked: after `start` the fields below are touched only by the server thread, and
    // `finished` is read after `done` is signalled.
    let port: Int
    private let listener: Socket
    private let deliveries: Int
    /// The body of every delivery, made once.
    private let body: [UInt8]
    private let properties: BasicProperties
    private let done = DispatchSemaphore(value: 0)
    private var serverCPU = 0.0
    private var failure: String?

    /// Publishes received with their body complete, for the publish phase.
    private(set) var publishesReceived = 0

    init(deliveries: Int, bodySize: Int, properties: BasicProperties = BasicProperties()) throws {
        listener = try Socket.listen(host: "127.0.0.1", port: 0)
        port = listener.localPort ?? 0
        self.deliveries = deliveries
        self.body = [UInt8](repeating: 0x61, count: bodySize)
        self.properties = properties
    }

    func start() {
        let thread = Thread { [self] in
            do {
                let socket = try listener.accept()
                try socket.setNonBlocking()
                try serve(socket)
                socket.close()
            } catch {
                failure = "\(error)"
            }
            serverCPU = CPUTime.thread()
            done.signal()
        }
        thread.name = "loopback-server"
        thread.start()
    }

    /// Waits for the client to close the connection; the server thread's CPU seconds, or why it failed.
    func finish() -> Result<Double, BenchFailure> {
        done.wait()
        listener.close()
        if let failure { return .failure(BenchFailure(description: "loopback server: \(failure)")) }
        return .success(serverCPU)
    }

    // MARK: The conversation

    private var inbound = WireBuffer(capacity: 1 << 20)
    private var outbound = WireBuffer(capacity: 1 << 20)
    private let decoder = AMQPFrameDecoder(maxFrameSize: 131_072)
    private let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 18, alignment: 16)
    private var consumerTag: String?
    private var sent: UInt64 = 0
    private var acked: UInt64 = 0
    private var prefetch: UInt64 = 1000
    private var confirming = false
    private var publishSequence: UInt64 = 0
    private var bodyBytesPending = 0

    private func serve(_ socket: Socket) throws {
        defer { readBuffer.deallocate() }
        try readExactly(8, from: socket)  // the protocol header
        inbound.clear()
        try send(
            .connection(
                .start(
                    .init(
                        versionMajor: 0, versionMinor: 9, mechanisms: Array("PLAIN".utf8), locales: Array("en_US".utf8))
                )), channel: 0, to: socket)
        while true {
            streamDeliveries(to: socket)
            try flush(socket)
            // With more deliveries allowed, only look for input: the client acks every 100, so
            // waiting for it after a few large deliveries would stall both sides.
            guard try readSome(from: socket, wait: !canStream) else { return }
            while let frame = try decoder.decodeFrame(from: &inbound) {
                if try !handle(frame, on: socket) { return }
            }
            inbound.discardReadBytes()
        }
    }

    /// Handles one frame from the client; false once the connection is closed.
    private func handle(_ frame: AMQPFrame, on socket: Socket) throws -> Bool {
        switch frame {
        case .method(let channel, let method):
            switch method {
            case .connection(.startOk):
                queue(.connection(.tune(.init(channelMax: 2047, frameMax: 131_072, heartbeat: 0))), 0)
            case .connection(.tuneOk): break
            case .connection(.open): queue(.connection(.openOk(.init())), 0)
            case .connection(.close):
                queue(.connection(.closeOk(.init())), 0)
                try flush(socket)
                return false
            case .channel(.open): queue(.channel(.openOk(.init())), channel)
            case .channel(.close): queue(.channel(.closeOk(.init())), channel)
            case .basic(.qos(let qos)):
                prefetch = UInt64(qos.prefetchCount == 0 ? 1000 : qos.prefetchCount)
                queue(.basic(.qosOk(.init())), channel)
            case .basic(.consume(let consume)):
                let tag = consume.consumerTag.isEmpty ? "amq.ctag-loopback-0000000000000" : consume.consumerTag
                consumerTag = tag
                queue(.basic(.consumeOk(.init(consumerTag: tag))), channel)
            case .basic(.cancel(let cancel)):
                consumerTag = nil
                queue(.basic(.cancelOk(.init(consumerTag: cancel.consumerTag))), channel)
            case .basic(.ack(let ack)): acked = ack.multiple ? ack.deliveryTag : acked + 1
            case .basic(.publish): break
            case .confirm(.select):
                confirming = true
                queue(.confirm(.selectOk(.init())), channel)
            default:
                throw BenchFailure(description: "the loopback server does not answer \(method.id)")
            }
        case .header(_, let header):
            bodyBytesPending = Int(header.bodySize)
            if bodyBytesPending == 0 { published() }
        case .body(_, let bytes):
            bodyBytesPending -= bytes.count
            if bodyBytesPending == 0 { published() }
        case .heartbeat:
            break
        }
        return true
    }

    private func published() {
        publishesReceived += 1
        guard confirming else { return }
        publishSequence += 1
        // One ack per 64 publishes (multiple), and the last, much as RabbitMQ batches them.
        if publishSequence % 64 == 0 || publishesReceived == deliveries {
            queue(.basic(.ack(.init(deliveryTag: publishSequence, multiple: true))), 1)
        }
    }

    /// Queues deliveries while the consumer's prefetch allows and some are left.
    private func streamDeliveries(to socket: Socket) {
        guard let consumerTag else { return }
        while sent < UInt64(deliveries), sent - acked < prefetch, outbound.readableBytes < 1 << 20 {
            sent += 1
            let deliver = AMQPMethod.basic(
                .deliver(.init(consumerTag: consumerTag, deliveryTag: sent, exchange: "", routingKey: "loopback")))
            // Encoding a method the codec itself wrote cannot fail.
            try? AMQPFrameEncoder.encodeContent(
                deliver, channel: 1, properties: properties, body: body, frameMax: 131_072, into: &outbound)
        }
    }

    private func queue(_ method: AMQPMethod, _ channel: UInt16) {
        try? AMQPFrameEncoder.encodeMethod(method, channel: channel, into: &outbound)
    }

    private func send(_ method: AMQPMethod, channel: UInt16, to socket: Socket) throws {
        queue(method, channel)
        try flush(socket)
    }

    private func flush(_ socket: Socket) throws {
        guard outbound.readableBytes > 0 else { return }
        try outbound.withUnsafeReadableBytes { bytes in
            try socket.write(bytes, deadline: .now + .seconds(60))
        }
        outbound.clear()
    }

    private var canStream: Bool { consumerTag != nil && sent < UInt64(deliveries) && sent - acked < prefetch }

    /// Reads what is there (with `wait`, at least one byte); false at end of file.
    private func readSome(from socket: Socket, wait: Bool = true) throws -> Bool {
        var n = 0
        if wait {
            do {
                n = try socket.read(into: readBuffer, deadline: .now + .seconds(60))
            } catch {
                if error.kind == .closed { return false }
                throw error
            }
        } else {
            switch socket.receive(into: readBuffer) {
            case .bytes(let count): n = count
            case .wouldBlock: return true
            case .closed: return false
            case .failed(let code): throw BenchFailure(description: "read: errno \(code)")
            }
        }
        inbound.writeBytes(UnsafeRawBufferPointer(rebasing: readBuffer[0..<n]))
        return true
    }

    private func readExactly(_ count: Int, from socket: Socket) throws {
        while inbound.readableBytes < count {
            guard try readSome(from: socket) else { throw BenchFailure(description: "the client went away") }
        }
        inbound.moveReaderIndex(forwardBy: count)
    }
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
}
