// libFuzzer entry point for the AMQP codec. Not a SwiftPM target: scripts/fuzz.sh compiles it
// together with the codec sources into one module, so it uses the codec without an import.
//
// Any crash, sanitizer report or `fail` is a finding. Thrown `AMQPCodecError`s are the expected
// answer to malformed input and are not.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // A small limit exercises the frame-size check; a large one lets big payloads through.
    decodeEveryFrame(bytes, maxFrameSize: 4096)
    decodeEveryFrame(bytes, maxFrameSize: 1 << 20)
    decodeWholeDeliveriesAlike(bytes, maxFrameSize: 4096)
    decodeAsFieldTable(bytes)
    return 0
}

/// Decodes frames until the decoder needs more bytes or throws; checks that neither moves the
/// reader and that each frame survives a round trip.
func decodeEveryFrame(_ bytes: [UInt8], maxFrameSize: UInt32) {
    let decoder = AMQPFrameDecoder(maxFrameSize: maxFrameSize)
    var buffer = WireBuffer(bytes: bytes)
    while true {
        let before = buffer.readerIndex
        let frame: AMQPFrame?
        do {
            frame = try decoder.decodeFrame(from: &buffer)
        } catch {
            if buffer.readerIndex != before { fail("a throwing decode moved the reader") }
            return
        }
        guard let frame else {
            if buffer.readerIndex != before { fail("a nil decode moved the reader") }
            return
        }
        if buffer.readerIndex <= before { fail("a decoded frame consumed no bytes") }
        checkRoundTrip(frame)
    }
}

func checkRoundTrip(_ frame: AMQPFrame) {
    var encoded = WireBuffer()
    do {
        try AMQPFrameEncoder.encode(frame, into: &encoded)
    } catch {
        if error.code == .shortStringTooLong { return }  // the known limitation below
        fail("a decoded frame does not encode: \(error)\n\(frame)")
    }
    let again: AMQPFrame?
    do {
        again = try AMQPFrameDecoder(maxFrameSize: .max).decodeFrame(from: &encoded)
    } catch {
        fail("a re-encoded frame does not decode: \(error)\n\(frame)")
    }
    if again != frame { fail("a frame changed in a round trip:\n\(frame)\n\(String(describing: again))") }
    if encoded.readableBytes != 0 { fail("a re-encoded frame left \(encoded.readableBytes) bytes") }
}

/// The whole-delivery fast path (`decodeItem`) must see what `decodeFrame` sees: the same
/// frames, once each delivery is spread back into its three, and the same error at the end.
func decodeWholeDeliveriesAlike(_ bytes: [UInt8], maxFrameSize: UInt32) {
    var decoder = AMQPFrameDecoder(maxFrameSize: maxFrameSize)
    var frames: [AMQPFrame] = []
    var frameError: AMQPCodecError?
    var buffer = WireBuffer(bytes: bytes)
    do {
        while let frame = try decoder.decodeFrame(from: &buffer) { frames.append(frame) }
    } catch {
        frameError = error
    }
    var spread: [AMQPFrame] = []
    var itemError: AMQPCodecError?
    buffer = WireBuffer(bytes: bytes)
    do {
        while let item = try decoder.decodeItem(from: &buffer) {
            switch item {
            case .frame(let frame):
                spread.append(frame)
            case .delivery(let channel, let message):
                guard case .deliver(let deliver) = message.method else { fail("a whole delivery of \(message.method)") }
                spread.append(.method(channel: channel, .basic(.deliver(deliver))))
                spread.append(
                    .header(
                        channel: channel,
                        ContentHeader(bodySize: UInt64(message.body.count), properties: message.properties)))
                if !message.body.isEmpty { spread.append(.body(channel: channel, message.body[...])) }
            }
        }
    } catch {
        itemError = error
    }
    if spread != frames { fail("whole deliveries differ from their frames:\n\(spread)\n\(frames)") }
    if itemError != frameError {
        fail("the fast path ended with \(String(describing: itemError)), frames with \(String(describing: frameError))")
    }
}

func decodeAsFieldTable(_ bytes: [UInt8]) {
    var reader = ByteReader(bytes)
    guard let table = try? reader.readFieldTable() else { return }
    var encoded = WireBuffer()
    do {
        try encoded.writeFieldTable(table)
    } catch {
        if error.code == .shortStringTooLong { return }  // the known limitation below
        fail("a decoded field table does not encode: \(error)\n\(table)")
    }
    var again = ByteReader(encoded.readableBytesArray)
    let decoded = try? again.readFieldTable()
    if decoded != table { fail("a field table changed in a round trip:\n\(table)\n\(String(describing: decoded))") }
    if !again.isAtEnd { fail("a re-encoded field table has trailing bytes") }
}

// Known limitation, not a finding: a short string that is not UTF-8 decodes with each bad byte
// replaced by U+FFFD (3 bytes), so it can grow past 255 bytes and then no longer encode.
// FieldTableTests pins this with a known-issue test.

/// Unlike `precondition`, which says nothing in -O builds, this prints what failed.
func fail(_ message: String) -> Never {
    fatalError(message)
}
