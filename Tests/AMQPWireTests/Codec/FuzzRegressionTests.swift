import Foundation
import Testing

@testable import AMQPWire

/// Replays the fuzz corpus (seeds, inputs the fuzzer kept, and every crasher it found) with the
/// checks the fuzz target makes, so a fixed finding stays fixed without running the fuzzer.
@Suite struct FuzzRegressionTests {
    static func corpusFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(
            at: FuzzSeedCorpus.directory, includingPropertiesForKeys: nil
        ).sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    static func corpusInput(_ name: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: FuzzSeedCorpus.directory.appendingPathComponent(name)))
    }

    @Test func everyCorpusInputDecodesAndReencodesConsistently() throws {
        let files = try Self.corpusFiles()
        #expect(files.count >= 70)
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            for maxFrameSize: UInt32 in [4096, 1 << 20] {
                replayFrames(bytes, maxFrameSize: maxFrameSize, name: file.lastPathComponent)
                replayWholeDeliveries(bytes, maxFrameSize: maxFrameSize, name: file.lastPathComponent)
            }
            replayFieldTable(bytes, name: file.lastPathComponent)
        }
    }

    /// Set `AMQP_WRITE_FUZZ_SEEDS=1` to (re)write the seeds after changing them or the codec.
    @Test func committedCorpusHoldsEverySeed() throws {
        let seeds = try FuzzSeedCorpus.seeds()
        if ProcessInfo.processInfo.environment["AMQP_WRITE_FUZZ_SEEDS"] != nil {
            try FileManager.default.createDirectory(at: FuzzSeedCorpus.directory, withIntermediateDirectories: true)
            for seed in seeds {
                try Data(seed.bytes).write(to: FuzzSeedCorpus.directory.appendingPathComponent(seed.name))
            }
        }
        for seed in seeds {
            let committed = try? Data(contentsOf: FuzzSeedCorpus.directory.appendingPathComponent(seed.name))
            #expect(
                committed.map([UInt8].init) == seed.bytes, "\(seed.name) is stale: rerun with AMQP_WRITE_FUZZ_SEEDS=1")
        }
    }

    // MARK: Findings

    /// Found by the fuzzer: a NaN decoded from a table made the table unequal to itself, because
    /// `FieldValue`'s synthesized `==` compared floats the IEEE way. Fixed in FieldValue.swift.
    @Test func crasherWithANaNDoubleDecodesToATableEqualToItsRoundTrip() throws {
        var reader = ByteReader(try Self.corpusInput("crash-733c94f0-nan-double-in-field-table"))
        let table = try reader.readFieldTable()
        #expect(table.contains { if case .double(let d) = $0.value { d.isNaN } else { false } })
        #expect(try FieldTableTests.roundTrip(table).decoded == table)
    }

    @Test func minimalNaNTableDecodesEqualToItself() throws {
        let bytes: [UInt8] = [
            0x00, 0x00, 0x00, 0x12,
            0x01, 0x64, 0x64, 0xFF, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,  // "d": a signalling NaN
            0x01, 0x66, 0x66, 0x7F, 0xC0, 0x00, 0x00,  // "f": a quiet NaN
        ]
        var first = ByteReader(bytes)
        var second = ByteReader(bytes)
        #expect(try first.readFieldTable() == second.readFieldTable())
    }

    /// Found by the fuzzer: a 112-byte key of mostly invalid UTF-8 is repaired to more than 255
    /// bytes, so the decoded table does not re-encode. A known limitation, not a crash.
    @Test func crasherWithANonUTF8KeyDecodesButDoesNotReencode() throws {
        var reader = ByteReader(try Self.corpusInput("crash-c4b08c29-non-utf8-table-key"))
        let table = try reader.readFieldTable()
        #expect(table.contains { $0.key.utf8.count > 255 })
        var buffer = WireBuffer()
        #expect { try buffer.writeFieldTable(table) } throws: { ($0 as? AMQPCodecError)?.code == .shortStringTooLong }
    }

    // MARK: Replay

    private func replayFrames(_ bytes: [UInt8], maxFrameSize: UInt32, name: String) {
        let decoder = AMQPFrameDecoder(maxFrameSize: maxFrameSize)
        var buffer = WireBuffer(bytes: bytes)
        while true {
            let before = buffer.readerIndex
            guard let frame = try? decoder.decodeFrame(from: &buffer) else {
                #expect(buffer.readerIndex == before, "\(name): a failed decode moved the reader")
                return
            }
            #expect(buffer.readerIndex > before, "\(name): a frame consumed no bytes")
            var encoded = WireBuffer()
            do {
                try AMQPFrameEncoder.encode(frame, into: &encoded)
            } catch  where error.code == .shortStringTooLong {
                continue  // the known limitation FieldTableTests pins: repaired non-UTF-8 short strings
            } catch {
                Issue.record("\(name): \(frame) does not re-encode: \(error)")
                continue
            }
            let again = try? AMQPFrameDecoder(maxFrameSize: .max).decodeFrame(from: &encoded)
            #expect(again == frame, "\(name): the frame changed in a round trip")
            #expect(encoded.readableBytes == 0, "\(name)")
        }
    }

    /// The whole-delivery fast path against the frames, as the fuzz target checks it: the
    /// items, each delivery spread back into its frames, are the frames, with the same error.
    private func replayWholeDeliveries(_ bytes: [UInt8], maxFrameSize: UInt32, name: String) {
        var decoder = AMQPFrameDecoder(maxFrameSize: maxFrameSize)
        var frames: [AMQPFrame] = []
        var buffer = WireBuffer(bytes: bytes)
        let frameError: AMQPCodecError? = {
            do throws(AMQPCodecError) {
                while let frame = try decoder.decodeFrame(from: &buffer) { frames.append(frame) }
                return nil
            } catch { return error }
        }()
        var spread: [AMQPFrame] = []
        buffer = WireBuffer(bytes: bytes)
        let itemError: AMQPCodecError? = {
            do throws(AMQPCodecError) {
                while let item = try decoder.decodeItem(from: &buffer) {
                    switch item {
                    case .frame(let frame):
                        spread.append(frame)
                    case .delivery(let channel, let message):
                        guard case .deliver(let deliver) = message.method else { return nil }
                        let header = ContentHeader(bodySize: UInt64(message.body.count), properties: message.properties)
                        spread += [
                            .method(channel: channel, .basic(.deliver(deliver))), .header(channel: channel, header),
                        ]
                        if !message.body.isEmpty { spread.append(.body(channel: channel, message.body[...])) }
                    }
                }
                return nil
            } catch { return error }
        }()
        #expect(spread == frames, "\(name): whole deliveries differ from their frames")
        #expect(itemError == frameError, "\(name)")
    }

    private func replayFieldTable(_ bytes: [UInt8], name: String) {
        var reader = ByteReader(bytes)
        guard let table = try? reader.readFieldTable() else { return }
        var encoded = WireBuffer()
        do {
            try encoded.writeFieldTable(table)
        } catch  where error.code == .shortStringTooLong {
            return
        } catch {
            Issue.record("\(name): \(table) does not re-encode: \(error)")
            return
        }
        var again = ByteReader(encoded.readableBytesArray)
        #expect((try? again.readFieldTable()) == table, "\(name): the table changed in a round trip")
    }
}
