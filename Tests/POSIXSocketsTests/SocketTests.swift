import POSIXSockets
import Testing

@Suite struct SocketTests {
    @Test func listenOnPortZeroThenConnectAndExchangeBytes() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        let port = try #require(listener.localPort)
        #expect(port > 0)
        let client = try Socket.connect(host: "127.0.0.1", port: port, deadline: .now + .seconds(5))
        let server = try listener.accept()
        try server.setNonBlocking()
        let deadline = ContinuousClock.now + .seconds(5)
        try Array("hello".utf8).withUnsafeBytes { try client.write($0, deadline: deadline) }
        var buffer = [UInt8](repeating: 0, count: 16)
        let n = try buffer.withUnsafeMutableBytes { try server.read(into: $0, deadline: deadline) }
        #expect(String(decoding: buffer[..<n], as: UTF8.self) == "hello")
    }

    @Test func readTimesOutAtTheDeadline() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        let client = try Socket.connect(
            host: "127.0.0.1", port: try #require(listener.localPort), deadline: .now + .seconds(5))
        let server = try listener.accept()
        var buffer = [UInt8](repeating: 0, count: 4)
        let error = #expect(throws: SocketError.self) {
            _ = try buffer.withUnsafeMutableBytes { try client.read(into: $0, deadline: .now + .milliseconds(50)) }
        }
        withExtendedLifetime(server) {}
        #expect(error?.kind == .timeout)
    }

    @Test func readAfterThePeerClosesSaysClosed() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        let client = try Socket.connect(
            host: "127.0.0.1", port: try #require(listener.localPort), deadline: .now + .seconds(5))
        let server = try listener.accept()
        server.close()
        var buffer = [UInt8](repeating: 0, count: 4)
        let error = #expect(throws: SocketError.self) {
            _ = try buffer.withUnsafeMutableBytes { try client.read(into: $0, deadline: .now + .seconds(5)) }
        }
        #expect(error?.kind == .closed)
    }

    @Test func connectingToAClosedPortFailsWithTheAddress() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        let port = try #require(listener.localPort)
        listener.close()
        let error = #expect(throws: SocketError.self) {
            _ = try Socket.connect(host: "127.0.0.1", port: port, deadline: .now + .seconds(5))
        }
        #expect(error?.kind == .connect)
        #expect(error?.message.contains("127.0.0.1:\(port)") == true)
    }

    @Test func unknownHostIsAResolveError() {
        let error = #expect(throws: SocketError.self) {
            _ = try Socket.connect(host: "no-such-host.invalid", port: 1, deadline: .now + .seconds(5))
        }
        #expect(error?.kind == .resolve)
    }

    @Test func acceptAfterShutdownThrowsClosed() throws {
        let listener = try Socket.listen(host: "127.0.0.1", port: 0)
        listener.shutdown()
        let error = #expect(throws: SocketError.self) { _ = try listener.accept() }
        #expect(error?.kind == .closed)
    }

    @Test func aWakeupPipeWaitEndsWithTheSignalOrTheTime() throws {
        let pipe = try WakeupPipe()
        #expect(pipe.wait(upTo: .microseconds(200)) == .timedOut)
        pipe.signal()
        pipe.signal()
        #expect(pipe.wait(upTo: .seconds(30)) == .signalled)
        // The wait drained both signals.
        #expect(pipe.wait(upTo: .zero) == .timedOut)
    }
}
