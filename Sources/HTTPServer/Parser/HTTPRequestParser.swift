/// An incremental HTTP/1.1 request parser: bytes in, requests out. It does no I/O.
///
/// Feed it what the socket read with `append(_:)`, then call `next()` until it says
/// `.needMoreBytes`. It checks every byte as it arrives, so it gives the same answers whether the
/// input comes whole, byte by byte, or several pipelined requests at once, and it never scans a
/// byte twice (a client trickling a header costs nothing extra). Bodies, fixed-length or chunked,
/// are collected whole; trailer fields are checked against the header limits and dropped.
///
/// It refuses, rather than guesses at, anything that could let two servers disagree about where a
/// request ends (request smuggling): both `Content-Length` and `Transfer-Encoding`, differing
/// `Content-Length` values, a transfer coding other than `chunked`, obs-fold continuation lines,
/// whitespace before a field's colon, and bare CR or LF line ends. Once it reports an error it stays
/// failed: the connection must be closed after the error response.
///
/// Memory: what it holds is bounded by the limits plus the bytes appended and not yet parsed.
public struct HTTPRequestParser: Sendable {
    /// What `next()` found.
    public enum Result: Sendable, Equatable {
        /// The buffered bytes do not finish the next step; append more.
        case needMoreBytes
        /// The request head carried `Expect: 100-continue` and a body follows: answer
        /// `100 Continue` (after any earlier responses) and call `next()` again.
        case continueRequested
        /// A whole request, body included.
        case request(HTTPRequest)
        /// The input is not an acceptable request; answer with this status and close.
        case error(HTTPStatus)
    }

    /// Where the parser is in the current request, for the caller's timeouts.
    public enum Phase: Sendable, Equatable {
        /// Between requests: no byte of the next one has been parsed.
        case idle
        /// Inside a request line or header section.
        case head
        /// Inside a body (or its trailers).
        case body
    }

    private enum Stage: Sendable {
        case requestStart, leadingLF, method, target, version, requestLineLF
        case fieldStart, fieldName, fieldValue, fieldLF, sectionEndLF
        case fixedBody
        case chunkSize, chunkSizeSpace, chunkExtension, chunkSizeLF, chunkData, chunkDataCR, chunkDataLF
        case failed
    }

    /// The longest method token, and the most empty lines tolerated before a request line.
    static let maxMethodLength = 32
    static let maxLeadingEmptyLines = 8
    /// The longest chunk-size line (size and extensions).
    static let maxChunkLineLength = 4096

    /// The limits this parser enforces.
    public let limits: HTTPRequestLimits

    private var buffer: [UInt8] = []
    /// The start of what is not yet consumed: the current line, or unread body bytes.
    private var readIndex = 0
    /// The next byte to check.
    private var scanIndex = 0
    private var stage = Stage.requestStart
    private var failure = HTTPStatus.badRequest

    // The request being parsed.
    private var started = false
    private var emptyLines = 0
    private var methodLength = 0
    private var targetLength = 0
    private var versionLength = 0
    private var nameLength = 0
    private var sectionBytes = 0
    private var fieldCount = 0
    private var inTrailers = false
    private var method = HTTPMethod.get
    private var target = ""
    private var version = HTTPVersion.http1_1
    private var headers = HTTPHeaders()
    private var body: [UInt8] = []
    private var remaining = 0
    private var chunkSize: UInt64 = 0
    private var chunkDigits = 0
    private var chunkLineLength = 0

    /// A parser at the start of a connection.
    public init(limits: HTTPRequestLimits = HTTPRequestLimits()) {
        self.limits = limits
    }

    /// Where the parser is in the current request.
    public var phase: Phase {
        switch stage {
        case .fixedBody, .chunkSize, .chunkSizeSpace, .chunkExtension, .chunkSizeLF, .chunkData, .chunkDataCR,
            .chunkDataLF:
            .body
        case .fieldStart, .fieldName, .fieldValue, .fieldLF, .sectionEndLF:
            inTrailers ? .body : .head
        case .failed:
            .head
        case .requestStart, .leadingLF, .method, .target, .version, .requestLineLF:
            started ? .head : .idle
        }
    }

    /// Bytes appended and not yet consumed (the current partial line, unread body bytes and any
    /// pipelined requests after it).
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds bytes read from the connection. Ignored once the parser has failed.
    public mutating func append(_ bytes: some Collection<UInt8>) {
        if case .failed = stage { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Adds bytes read from the connection. Ignored once the parser has failed.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if case .failed = stage { return }
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Drops consumed bytes once they are at least half the buffer, so appending stays amortized O(1).
    private mutating func compact() {
        if readIndex == buffer.count {
            buffer.removeAll(keepingCapacity: buffer.capacity <= 1 << 17)
            scanIndex = 0
            readIndex = 0
        } else if readIndex >= 4096 && readIndex >= buffer.count / 2 {
            buffer.removeSubrange(0..<readIndex)
            scanIndex -= readIndex
            readIndex = 0
        }
    }

    /// Parses as far as the buffered bytes go: the next request, a request for `100 Continue`, an
    /// error, or `.needMoreBytes`.
    public mutating func next() -> Result {
        while true {
            switch stage {
            case .failed:
                return .error(failure)
            case .fixedBody, .chunkData:
                let available = buffer.count - readIndex
                guard available > 0 else { return .needMoreBytes }
                let count = min(available, remaining)
                body.append(contentsOf: buffer[readIndex..<readIndex + count])
                readIndex += count
                scanIndex = readIndex
                remaining -= count
                guard remaining == 0 else { return .needMoreBytes }
                if case .fixedBody = stage { return finishRequest() }
                stage = .chunkDataCR
            default:
                guard scanIndex < buffer.count else { return .needMoreBytes }
                let byte = buffer[scanIndex]
                scanIndex += 1
                if let result = step(byte) { return result }
            }
        }
    }

    // MARK: Byte by byte

    /// Moves the state machine by one byte of a line; returns a result when one is decided.
    private mutating func step(_ byte: UInt8) -> Result? {
        switch stage {
        case .requestStart:
            started = true
            if ASCII.isToken(byte) {
                methodLength = 1
                stage = .method
            } else if byte == ASCII.cr {
                // RFC 9112 §2.2: ignore empty lines before a request line, a few at most.
                emptyLines += 1
                guard emptyLines <= Self.maxLeadingEmptyLines else { return fail(.badRequest) }
                stage = .leadingLF
            } else {
                return fail(.badRequest)
            }
        case .leadingLF:
            guard byte == ASCII.lf else { return fail(.badRequest) }
            readIndex = scanIndex
            stage = .requestStart
        case .method:
            if ASCII.isToken(byte) {
                methodLength += 1
                guard methodLength <= Self.maxMethodLength else { return fail(.badRequest) }
            } else if byte == ASCII.space {
                targetLength = 0
                stage = .target
            } else {
                return fail(.badRequest)
            }
        case .target:
            if ASCII.isTargetCharacter(byte) {
                targetLength += 1
                guard targetLength <= limits.maxRequestTargetLength else { return fail(.uriTooLong) }
            } else if byte == ASCII.space && targetLength > 0 {
                versionLength = 0
                stage = .version
            } else {
                return fail(.badRequest)
            }
        case .version:
            if byte == ASCII.cr {
                stage = .requestLineLF
            } else if versionLength < 8 && ASCII.isTargetCharacter(byte) {
                versionLength += 1
            } else {
                return fail(.badRequest)
            }
        case .requestLineLF:
            guard byte == ASCII.lf else { return fail(.badRequest) }
            return finishRequestLine()
        case .fieldStart, .fieldName, .fieldValue, .fieldLF, .sectionEndLF:
            sectionBytes += 1
            guard sectionBytes <= limits.maxHeaderBytes else { return fail(.requestHeaderFieldsTooLarge) }
            return stepField(byte)
        case .chunkSize, .chunkSizeSpace, .chunkExtension, .chunkSizeLF:
            chunkLineLength += 1
            guard chunkLineLength <= Self.maxChunkLineLength else { return fail(.badRequest) }
            return stepChunkSize(byte)
        case .chunkDataCR:
            guard byte == ASCII.cr else { return fail(.badRequest) }
            stage = .chunkDataLF
        case .chunkDataLF:
            guard byte == ASCII.lf else { return fail(.badRequest) }
            readIndex = scanIndex
            startChunkSize()
        case .fixedBody, .chunkData, .failed:
            break  // next() handles these without stepping
        }
        return nil
    }

    private mutating func stepField(_ byte: UInt8) -> Result? {
        switch stage {
        case .fieldStart:
            if ASCII.isToken(byte) {
                nameLength = 1
                stage = .fieldName
            } else if byte == ASCII.cr {
                stage = .sectionEndLF
            } else {
                // SP or HTAB here is obs-fold (or whitespace after the request line); a colon is an empty name.
                return fail(.badRequest)
            }
        case .fieldName:
            if ASCII.isToken(byte) {
                nameLength += 1
            } else if byte == ASCII.colon {
                stage = .fieldValue
            } else {
                return fail(.badRequest)  // whitespace before the colon, or a byte no name may hold
            }
        case .fieldValue:
            if byte == ASCII.cr {
                stage = .fieldLF
            } else if !ASCII.isFieldValue(byte) {
                return fail(.badRequest)
            }
        case .fieldLF:
            guard byte == ASCII.lf else { return fail(.badRequest) }
            fieldCount += 1
            guard fieldCount <= limits.maxHeaderCount else { return fail(.requestHeaderFieldsTooLarge) }
            if !inTrailers {
                let nameEnd = readIndex + nameLength
                var valueStart = nameEnd + 1
                var valueEnd = scanIndex - 2
                while valueStart < valueEnd && (buffer[valueStart] == ASCII.space || buffer[valueStart] == ASCII.tab) {
                    valueStart += 1
                }
                while valueEnd > valueStart
                    && (buffer[valueEnd - 1] == ASCII.space || buffer[valueEnd - 1] == ASCII.tab)
                {
                    valueEnd -= 1
                }
                headers.add(
                    name: String(decoding: buffer[readIndex..<nameEnd], as: UTF8.self),
                    value: String(decoding: buffer[valueStart..<valueEnd], as: UTF8.self))
            }
            readIndex = scanIndex
            stage = .fieldStart
        case .sectionEndLF:
            guard byte == ASCII.lf else { return fail(.badRequest) }
            readIndex = scanIndex
            return inTrailers ? finishRequest() : finishHead()
        default:
            break
        }
        return nil
    }

    private mutating func stepChunkSize(_ byte: UInt8) -> Result? {
        switch stage {
        case .chunkSize:
            if let digit = ASCII.hexValue(byte) {
                chunkDigits += 1
                guard chunkDigits <= 16 else { return fail(.badRequest) }
                chunkSize = chunkSize << 4 | UInt64(digit)
            } else if chunkDigits == 0 {
                return fail(.badRequest)
            } else if byte == ASCII.cr {
                stage = .chunkSizeLF
            } else if byte == UInt8(ascii: ";") {
                stage = .chunkExtension
            } else if byte == ASCII.space || byte == ASCII.tab {
                stage = .chunkSizeSpace
            } else {
                return fail(.badRequest)
            }
        case .chunkSizeSpace:
            if byte == ASCII.cr {
                stage = .chunkSizeLF
            } else if byte == UInt8(ascii: ";") {
                stage = .chunkExtension
            } else if byte != ASCII.space && byte != ASCII.tab {
                return fail(.badRequest)
            }
        case .chunkExtension:
            // Extensions are skipped; they may hold tokens, quoted strings and whitespace.
            if byte == ASCII.cr {
                stage = .chunkSizeLF
            } else if !ASCII.isFieldValue(byte) {
                return fail(.badRequest)
            }
        case .chunkSizeLF:
            guard byte == ASCII.lf else { return fail(.badRequest) }
            readIndex = scanIndex
            if chunkSize == 0 {
                inTrailers = true
                sectionBytes = 0
                fieldCount = 0
                stage = .fieldStart
            } else {
                guard chunkSize <= UInt64(limits.maxBodyBytes - body.count) else { return fail(.contentTooLarge) }
                remaining = Int(chunkSize)
                stage = .chunkData
            }
        default:
            break
        }
        return nil
    }

    private mutating func startChunkSize() {
        chunkSize = 0
        chunkDigits = 0
        chunkLineLength = 0
        stage = .chunkSize
    }

    // MARK: Whole lines

    private mutating func finishRequestLine() -> Result? {
        let start = readIndex
        method = HTTPMethod(String(decoding: buffer[start..<start + methodLength], as: UTF8.self))
        let targetStart = start + methodLength + 1
        let targetBytes = buffer[targetStart..<targetStart + targetLength]
        let versionStart = targetStart + targetLength + 1
        let versionBytes = buffer[versionStart..<versionStart + versionLength]
        readIndex = scanIndex

        guard versionBytes.count == 8, versionBytes.starts(with: "HTTP/".utf8),
            versionBytes[versionStart + 6] == UInt8(ascii: "."),
            ASCII.isDigit(versionBytes[versionStart + 5]), ASCII.isDigit(versionBytes[versionStart + 7])
        else { return fail(.badRequest) }
        version = HTTPVersion(
            major: Int(versionBytes[versionStart + 5] - 0x30), minor: Int(versionBytes[versionStart + 7] - 0x30))
        guard version == .http1_1 || version == .http1_0 else { return fail(.httpVersionNotSupported) }

        // origin-form, absolute-form (http/https), or asterisk-form for OPTIONS; never a fragment.
        guard !targetBytes.contains(UInt8(ascii: "#")) else { return fail(.badRequest) }
        target = String(decoding: targetBytes, as: UTF8.self)
        let lowered = target.prefix(8).lowercased()
        let valid =
            target.hasPrefix("/") || (target == "*" && method == .options)
            || lowered.hasPrefix("http://") || lowered.hasPrefix("https://")
        guard valid else { return fail(.badRequest) }

        sectionBytes = 0
        fieldCount = 0
        stage = .fieldStart
        return nil
    }

    /// The framing and expectation rules of RFC 9112 §6 and RFC 9110 §10.1.1, strictest reading.
    private mutating func finishHead() -> Result? {
        let hosts = headers.values(for: "Host")
        guard hosts.count == 1 || (version == .http1_0 && hosts.isEmpty) else { return fail(.badRequest) }

        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        var chunked = false
        if !transferEncodings.isEmpty {
            guard version == .http1_1, contentLengths.isEmpty else { return fail(.badRequest) }
            let codings = transferEncodings.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            guard codings.count == 1, let only = codings.first,
                HTTPHeaders.equalIgnoringCase(HTTPHeaders.trimmed(only), "chunked")
            else { return fail(.badRequest) }
            chunked = true
        }

        var length = 0
        if !contentLengths.isEmpty {
            var value: Int?
            for element in contentLengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                guard let parsed = Self.parseContentLength(HTTPHeaders.trimmed(element)) else {
                    return fail(.badRequest)
                }
                guard value == nil || value == parsed else { return fail(.badRequest) }
                value = parsed
            }
            length = value ?? 0
        }

        var expectContinue = false
        let expectations = headers.values(for: "Expect")
        if !expectations.isEmpty {
            guard expectations.count == 1, HTTPHeaders.equalIgnoringCase(expectations[0], "100-continue") else {
                return fail(.expectationFailed)
            }
            expectContinue = version == .http1_1  // an HTTP/1.0 client cannot expect it (RFC 9110 §10.1.1)
        }

        if chunked {
            body.reserveCapacity(min(limits.maxBodyBytes, 1 << 14))
            startChunkSize()
        } else if length > limits.maxBodyBytes {
            return fail(.contentTooLarge)
        } else if length > 0 {
            body.reserveCapacity(min(length, 1 << 16))
            remaining = length
            stage = .fixedBody
        } else {
            return finishRequest()
        }
        return expectContinue ? .continueRequested : nil
    }

    /// Digits only (no sign, no spaces inside); saturates at `Int.max` so a huge value is a 413, not a 400.
    static func parseContentLength(_ text: Substring) -> Int? {
        guard !text.isEmpty else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard ASCII.isDigit(byte) else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(byte - 0x30))
            value = overflow1 || overflow2 ? Int.max : sum
        }
        return value
    }

    private mutating func finishRequest() -> Result {
        let request = HTTPRequest(method: method, target: target, version: version, headers: headers, body: body)
        started = false
        emptyLines = 0
        inTrailers = false
        headers = HTTPHeaders()
        body = []
        remaining = 0
        target = ""
        stage = .requestStart
        return .request(request)
    }

    private mutating func fail(_ status: HTTPStatus) -> Result {
        stage = .failed
        failure = status
        buffer = []
        readIndex = 0
        scanIndex = 0
        return .error(status)
    }
}
