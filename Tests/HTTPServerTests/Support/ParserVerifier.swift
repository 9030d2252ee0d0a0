@testable import HTTPServer

/// Feeds an input to a fresh parser whole, byte by byte, and in uneven pieces, and returns what it
/// found, once it checked that the three agree (the parser's answers must not depend on how the
/// bytes arrive). Stops at the first error, like the server does.
enum ParserVerifier {
    struct Disagreement: Error, CustomStringConvertible {
        var description: String
    }

    static func results(
        _ input: [UInt8], limits: HTTPRequestLimits = HTTPRequestLimits()
    ) throws -> [HTTPRequestParser.Result] {
        let whole = feed(input, pieces: [input.count], limits: limits)
        let byByte = feed(input, pieces: [1], limits: limits)
        let uneven = feed(input, pieces: [3, 1, 7, 2, 64], limits: limits)
        guard whole == byByte else {
            throw Disagreement(description: "whole: \(whole)\nbyte by byte: \(byByte)")
        }
        guard whole == uneven else {
            throw Disagreement(description: "whole: \(whole)\nin pieces: \(uneven)")
        }
        return whole
    }

    static func results(_ text: String, limits: HTTPRequestLimits = HTTPRequestLimits()) throws
        -> [HTTPRequestParser.Result]
    {
        try results(Array(text.utf8), limits: limits)
    }

    /// Feeds `input` in pieces of the given sizes (cycling), collecting every result but
    /// `.needMoreBytes`.
    static func feed(_ input: [UInt8], pieces: [Int], limits: HTTPRequestLimits) -> [HTTPRequestParser.Result] {
        var parser = HTTPRequestParser(limits: limits)
        var results: [HTTPRequestParser.Result] = []
        var offset = 0
        var piece = 0
        while offset < input.count {
            let size = max(1, min(pieces[piece % pieces.count], input.count - offset))
            piece += 1
            parser.append(input[offset..<offset + size])
            offset += size
            while true {
                let result = parser.next()
                if result == .needMoreBytes { break }
                results.append(result)
                if case .error = result { return results }
            }
        }
        return results
    }

    /// The requests in `results`, failing on anything else.
    static func requests(_ results: [HTTPRequestParser.Result]) -> [HTTPRequest] {
        results.compactMap { if case .request(let request) = $0 { request } else { nil } }
    }
}
