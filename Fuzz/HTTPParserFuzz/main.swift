// libFuzzer entry point for the HTTP request parser. Not a SwiftPM target: scripts/fuzz-http.sh
// compiles it together with the parser's sources (Sources/HTTPServer/Message and Parser, which do
// no I/O) into one module, so it uses the parser without an import.
//
// Any crash, sanitizer report or `fail` is a finding. `.error(status)` is the expected answer to
// malformed input and is not.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    // Small limits reach every limit check; the defaults let large inputs through.
    for limits in [fuzzSmallLimits, HTTPRequestLimits()] {
        let whole = parseAll(bytes, pieces: [bytes.count], limits: limits)
        let byByte = parseAll(bytes, pieces: [1], limits: limits)
        let uneven = parseAll(bytes, pieces: [size % 13 + 1, 2, 5], limits: limits)
        if whole != byByte { fail("whole and byte-by-byte feeding disagree:\n\(whole)\n\(byByte)") }
        if whole != uneven { fail("whole and piecewise feeding disagree:\n\(whole)\n\(uneven)") }
        for result in whole {
            guard case .request(let request) = result else { continue }
            checkLimits(request, limits)
            checkReparse(request, limits)
        }
    }
    return 0
}

let fuzzSmallLimits = HTTPRequestLimits(
    maxRequestTargetLength: 64, maxHeaderBytes: 256, maxHeaderCount: 8, maxBodyBytes: 128)

/// Feeds `bytes` in pieces of the given sizes and collects every result but `.needMoreBytes`,
/// stopping at the first error as the server does; checks the buffer stays bounded.
func parseAll(_ bytes: [UInt8], pieces: [Int], limits: HTTPRequestLimits) -> [HTTPRequestParser.Result] {
    var parser = HTTPRequestParser(limits: limits)
    var results: [HTTPRequestParser.Result] = []
    var offset = 0
    var piece = 0
    while offset < bytes.count {
        let count = max(1, min(pieces[piece % pieces.count], bytes.count - offset))
        piece += 1
        parser.append(bytes[offset..<offset + count])
        offset += count
        while true {
            let result = parser.next()
            if parser.bufferedByteCount > bytes.count { fail("the parser holds more bytes than it was given") }
            if result == .needMoreBytes { break }
            results.append(result)
            if case .error = result {
                if parser.next() != result { fail("a failed parser did not stay failed") }
                return results
            }
        }
    }
    return results
}

func checkLimits(_ request: HTTPRequest, _ limits: HTTPRequestLimits) {
    if request.body.count > limits.maxBodyBytes { fail("a body past the limit: \(request.body.count)") }
    if request.target.utf8.count > limits.maxRequestTargetLength { fail("a target past the limit") }
    if request.headers.count > limits.maxHeaderCount { fail("more header fields than the limit") }
    if request.headers.values(for: "Content-Length").count > 0 && request.headers.contains("Transfer-Encoding") {
        fail("a request with both Content-Length and Transfer-Encoding was accepted")
    }
}

/// A request the parser accepted, written back out with a `Content-Length` body, parses to itself.
func checkReparse(_ request: HTTPRequest, _ limits: HTTPRequestLimits) {
    guard !request.headers.contains("Transfer-Encoding") else { return }
    var text = "\(request.method.rawValue) \(request.target) \(request.version)\r\n"
    for field in request.headers { text += "\(field.name): \(field.value)\r\n" }
    text += "\r\n"
    var bytes = Array(text.utf8)
    // Field values that are not UTF-8 decode with replacement characters and do not reparse equal.
    guard bytes.count <= 1 << 20, request.headers.allSatisfy({ !$0.value.contains("\u{FFFD}") }) else { return }
    bytes += request.body
    // Written back out, the header section can be longer than it came in (a space after every
    // colon): past a small header limit that is a correct 431, not a reparse failure. So the
    // reparse allows the written-out size (fuzz finding crash-2939c250..., a harness fault).
    var relaxed = limits
    relaxed.maxHeaderBytes = max(limits.maxHeaderBytes, text.utf8.count)
    let again = parseAll(bytes, pieces: [bytes.count], limits: relaxed)
    if again != [.request(request)] && !(again.first == .continueRequested && again.dropFirst() == [.request(request)]) {
        fail("an accepted request does not reparse to itself:\n\(request)\n\(again)")
    }
}

/// Unlike `precondition`, which says nothing in -O builds, this prints what failed.
func fail(_ message: String) -> Never {
    fatalError(message)
}
