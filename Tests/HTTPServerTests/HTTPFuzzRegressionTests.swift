import Foundation
import Testing

@testable import HTTPServer

/// Replays the HTTP fuzz corpus (seeds, inputs the fuzzer kept, and any crasher it found) with the
/// fuzz target's main check: whole, byte-by-byte and piecewise feeding agree.
@Suite struct HTTPFuzzRegressionTests {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/corpus/http-requests")

    /// Valid requests of every framing, and a few refused ones, so the fuzzer starts deep.
    static let seeds: [(name: String, text: String)] = [
        ("seed-get", "GET /a/b?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
        ("seed-post-length", "POST /api/emails HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"),
        (
            "seed-post-form",
            "POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                + "Content-Length: 27\r\n\r\nto=a%40b.c&subject=Hi+there"
        ),
        (
            "seed-chunked-trailers",
            "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\n"
        ),
        (
            "seed-pipelined",
            "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\n"
                + "PUT /3 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nx"
        ),
        ("seed-expect", "POST /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"),
        ("seed-http10", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
        ("seed-absolute", "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\nGET http://h/x HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("seed-smuggle-cl-te", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
        (
            "seed-smuggle-two-lengths",
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
        ),
        ("seed-obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n"),
        ("seed-version", "GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
    ]

    static func corpusFiles() throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test func everyCorpusInputParsesTheSameHoweverItArrives() throws {
        let files = try Self.corpusFiles()
        #expect(files.count >= Self.seeds.count)
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: file))
            for limits in [
                HTTPRequestLimits(
                    maxRequestTargetLength: 64, maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 128),
                HTTPRequestLimits(),
            ] {
                #expect(throws: Never.self, "\(file.lastPathComponent)") {
                    _ = try ParserVerifier.results(bytes, limits: limits)
                }
            }
        }
    }

    /// Set `HTTP_WRITE_FUZZ_SEEDS=1` to (re)write the seeds after changing them.
    @Test func committedCorpusHoldsEverySeed() throws {
        if ProcessInfo.processInfo.environment["HTTP_WRITE_FUZZ_SEEDS"] != nil {
            try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
            for seed in Self.seeds {
                try Data(seed.text.utf8).write(to: Self.directory.appendingPathComponent(seed.name))
            }
        }
        for seed in Self.seeds {
            let committed = try? Data(contentsOf: Self.directory.appendingPathComponent(seed.name))
            #expect(
                committed.map([UInt8].init) == Array(seed.text.utf8),
                "\(seed.name) is stale: rerun with HTTP_WRITE_FUZZ_SEEDS=1")
        }
    }
}
