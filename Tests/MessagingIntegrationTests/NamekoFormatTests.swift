import AMQPWire
import Foundation
import Testing

@testable import Messaging

// The Nameko format's pure rules, against the bytes captured from Nameko 2.14.1
// (docs/wire-formats/nameko.md). No broker, no Python.

private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

private func hex(_ string: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = string.startIndex
    while index < string.endIndex {
        let next = string.index(index, offsetBy: 2)
        bytes.append(UInt8(string[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

@Suite struct NamekoRequestFormatTests {
    @Test func theRequestBodyIsByteIdenticalToClusterRpcProxys() {
        // proxy.greeting.hello("Bob", punctuation="?")
        let body = NamekoRPCMessages.requestBody(
            arguments: ["name": .string("Bob"), "punctuation": .string("?")], positional: ["name"])
        #expect(text(body) == #"{"args": ["Bob"], "kwargs": {"punctuation": "?"}}"#)
        #expect(text(NamekoRPCMessages.requestBody(arguments: [:], positional: [])) == #"{"args": [], "kwargs": {}}"#)
    }

    @Test func positionalArgumentsStopAtTheFirstAbsentOne() {
        let body = NamekoRPCMessages.requestBody(
            arguments: ["a": .number("1"), "c": .number("3")], positional: ["a", "b", "c"])
        #expect(text(body) == #"{"args": [1], "kwargs": {"c": 3}}"#)
    }

    @Test func theRequestPropertiesAreClusterRpcProxysPlusAnExpiration() throws {
        // The content-header frame of a captured ClusterRpcProxy request; its properties start at byte 19.
        let frame = hex(
            "020001000000d2003c00000000000000000031fe00106170706c69636174696f6e2f6a736f6e057574662d380000005d146e616d656b6f2e63616c6c5f69645f737461636b4100000043530000003e7374616e64616c6f6e655f7270635f70726f78792e63616c6c2e64623631623434632d343464662d346637362d616136372d31626533353330336632313302002432323935376336332d343864352d343862312d383138662d3639336530343238386139302435653135613636312d316162372d343933632d396432362d316166353837306661366636ce"
        )
        var properties = NamekoRPCMessages.requestProperties(
            correlationID: "22957c63-48d5-48b1-818f-693e04288a90", replyTo: "5e15a661-1ab7-493c-9d26-1af5870fa6f6",
            headers: [
                NamekoTopology.callIDStackHeader: .array([
                    .string("standalone_rpc_proxy.call.db61b44c-44df-4f76-aa67-1be35303f213")
                ])
            ], expirationMilliseconds: 5000)
        #expect(properties.expiration == "5000")
        properties.expiration = nil
        var buffer = WireBuffer()
        try properties.encode(into: &buffer)
        #expect(buffer.readableBytesArray == Array(frame[19..<(frame.count - 1)]))
    }

    @Test func aRequestParsesWhateverTheWhitespaceAndKeyOrder() throws {
        let parsed = try NamekoRPCMessages.parseRequest(
            body: Array(#"{ "kwargs" : {"x":true} ,"args":["Zo\u00eb",1.50]}"#.utf8), contentType: "application/json")
        #expect(parsed.args == [.string("Zoë"), .number("1.50")])
        #expect(parsed.kwargs == ["x": .bool(true)])
    }

    @Test(arguments: [
        (#"{"args": ["x"]}"#, "application/json", "Message missing `args` or `kwargs`"),
        (#"["x"]"#, "application/json", "Message missing `args` or `kwargs`"),
        (#"{"args": {"name": "x"}, "kwargs": {}}"#, "application/json", "`args` must be a list and `kwargs` an object"),
        (#"{"args": ["x"],"#, "application/json", "the body is not JSON: expected a key at byte 15"),
        (
            #"{"args": [], "kwargs": {}}"#, "text/plain",
            "content type 'text/plain' is not supported; send application/json"
        ),
    ])
    func aBadRequestIsAMalformedRequest(body: String, contentType: String, message: String) {
        #expect(throws: NamekoRemoteError.malformedRequest(message)) {
            try NamekoRPCMessages.parseRequest(body: Array(body.utf8), contentType: contentType)
        }
    }

    @Test func aRequestWithoutContentTypeIsAMalformedRequest() {
        #expect(throws: NamekoRemoteError.self) {
            try NamekoRPCMessages.parseRequest(body: Array(#"{"args": [], "kwargs": {}}"#.utf8), contentType: nil)
        }
    }
}

@Suite struct NamekoArgumentBindingTests {
    struct Hello: Decodable, Equatable {
        var name: String
        var punctuation: String?
    }

    @Test func positionalAndKeywordArgumentsBindByName() throws {
        let bound = try NamekoRPCMessages.bind(
            args: [.string("Bob")], kwargs: ["punctuation": .string("?"), "unknown": .null],
            positional: ["name", "punctuation"], method: "hello")
        let hello = try NamekoRPCMessages.decodeArguments(Hello.self, from: bound, method: "hello")
        #expect(hello == Hello(name: "Bob", punctuation: "?"))
    }

    @Test func tooManyPositionalArgumentsAreAnIncorrectSignature() {
        #expect(throws: NamekoRemoteError.incorrectSignature("hello() takes 2 positional arguments but 3 were given")) {
            try NamekoRPCMessages.bind(
                args: [.string("a"), .string("b"), .string("c")], kwargs: [:], positional: ["name", "punctuation"],
                method: "hello")
        }
    }

    @Test func anArgumentGivenTwiceIsAnIncorrectSignature() {
        #expect(throws: NamekoRemoteError.incorrectSignature("hello() got multiple values for argument 'name'")) {
            try NamekoRPCMessages.bind(
                args: [.string("a")], kwargs: ["name": .string("b")], positional: ["name"], method: "hello")
        }
    }

    @Test func aMissingArgumentIsAnIncorrectSignature() {
        #expect(throws: NamekoRemoteError.incorrectSignature("hello() missing required argument: 'name'")) {
            try NamekoRPCMessages.decodeArguments(Hello.self, from: [:], method: "hello")
        }
    }

    @Test func anArgumentOfTheWrongTypeIsAnIncorrectSignature() throws {
        let error = try #require(throws: NamekoRemoteError.self) {
            try NamekoRPCMessages.decodeArguments(Hello.self, from: ["name": .number("3")], method: "hello")
        }
        #expect(error.excPath == "nameko.exceptions.IncorrectSignature")
        #expect(error.value.hasPrefix("hello() cannot take these arguments:"))
        #expect(error.value.contains("'name'"))
    }
}

@Suite struct NamekoReplyFormatTests {
    @Test(arguments: [
        (NamekoJSON.string("Hello, Bob?"), #"{"result": "Hello, Bob?", "error": null}"#),
        (NamekoJSON.string("Hello, Zoë ✓!"), #"{"result": "Hello, Zo\u00eb \u2713!", "error": null}"#),
        (NamekoJSON.null, #"{"result": null, "error": null}"#),
    ])
    func aSuccessReplyIsByteIdenticalToNamekos(result: NamekoJSON, captured: String) {
        #expect(text(NamekoRPCMessages.replyBody(result: result)) == captured)
    }

    @Test(arguments: [
        (
            NamekoRemoteError(
                excType: "ValueError", excPath: "builtins.ValueError", excArgs: ["bad code", "42"],
                value: "('bad code', 42)"),
            #"{"result": null, "error": {"exc_type": "ValueError", "exc_path": "builtins.ValueError", "exc_args": ["bad code", "42"], "value": "('bad code', 42)"}}"#
        ),
        (
            NamekoRemoteError.methodNotFound("nope"),
            #"{"result": null, "error": {"exc_type": "MethodNotFound", "exc_path": "nameko.exceptions.MethodNotFound", "exc_args": ["nope"], "value": "nope"}}"#
        ),
        (
            NamekoRemoteError.incorrectSignature("hello() missing 1 required positional argument: 'name'"),
            #"{"result": null, "error": {"exc_type": "IncorrectSignature", "exc_path": "nameko.exceptions.IncorrectSignature", "exc_args": ["hello() missing 1 required positional argument: 'name'"], "value": "hello() missing 1 required positional argument: 'name'"}}"#
        ),
        (
            NamekoRemoteError.malformedRequest("Message missing `args` or `kwargs`"),
            #"{"result": null, "error": {"exc_type": "MalformedRequest", "exc_path": "nameko.exceptions.MalformedRequest", "exc_args": ["Message missing `args` or `kwargs`"], "value": "Message missing `args` or `kwargs`"}}"#
        ),
    ])
    func anErrorReplyIsByteIdenticalToNamekos(error: NamekoRemoteError, captured: String) throws {
        #expect(text(NamekoRPCMessages.replyBody(error: error)) == captured)
        // And reads back as the same error.
        #expect(
            try NamekoRPCMessages.parseReply(body: Array(captured.utf8), contentType: "application/json")
                == .failure(error))
    }

    @Test func theReplyPropertiesAreByteIdenticalToNamekos() throws {
        let frame = hex(
            "02000100000050003c00000000000000000028fc00106170706c69636174696f6e2f6a736f6e057574662d380000000002002432323935376336332d343864352d343862312d383138662d363933653034323838613930ce"
        )
        var buffer = WireBuffer()
        try NamekoRPCMessages.replyProperties(correlationID: "22957c63-48d5-48b1-818f-693e04288a90")
            .encode(into: &buffer)
        #expect(buffer.readableBytesArray == Array(frame[19..<(frame.count - 1)]))
    }

    struct Typed: Decodable, Equatable {
        var received: String
        var dt: Date
        var dec: Decimal
        var uuid: UUID
        var tuple: [Int]
    }

    @Test func kombuWrappersInAResultDecodeAsSwiftValues() throws {
        // Captured case T: a Nameko method returning a datetime, a Decimal, a UUID and a tuple.
        let captured =
            #"{"result": {"received": "datetime.datetime(2024, 6, 1, 8, 0, tzinfo=datetime.timezone.utc)", "dt": {"__type__": "datetime", "__value__": "2024-05-01T12:30:00+00:00"}, "dec": {"__type__": "decimal", "__value__": "1.50"}, "uuid": {"__type__": "uuid", "__value__": {"hex": "00000000000000000000000000000001"}}, "tuple": [1, 2]}, "error": null}"#
        guard
            case .success(let result) = try NamekoRPCMessages.parseReply(
                body: Array(captured.utf8), contentType: "application/json")
        else {
            Issue.record("not a success")
            return
        }
        let typed = try NamekoCoding.decode(Typed.self, from: result)
        #expect(typed.dt == Date(timeIntervalSince1970: 1_714_566_600))
        #expect(typed.dec == Decimal(string: "1.50"))
        #expect(typed.uuid == UUID(uuidString: "00000000-0000-0000-0000-000000000001"))
        #expect(typed.tuple == [1, 2])
    }

    @Test func otherKombuWrappersBecomeTheirPlainValues() {
        let wrapped = NamekoJSON.object([
            "day": .object(["__type__": .string("date"), "__value__": .string("2024-06-01")]),
            "raw": .object(["__type__": .string("base64"), "__value__": .string("AP8=")]),
            "text": .object(["__type__": .string("bytes"), "__value__": .string("hi")]),
            "odd": .object(["__type__": .string("complex"), "__value__": .string("1+2j")]),
            "list": .array([.object(["__type__": .string("decimal"), "__value__": .string("NaN")])]),
        ])
        #expect(
            NamekoCoding.unwrapKombu(wrapped)
                == .object([
                    "day": .string("2024-06-01"), "raw": .string("AP8="), "text": .string("hi"),
                    "odd": .object(["__type__": .string("complex"), "__value__": .string("1+2j")]),
                    "list": .array([.number("NaN")]),
                ]))
    }

    @Test func datesAreWrittenAsPythonIsoformatOrAsKombuWrappers() throws {
        struct At: Codable { var at: Date }
        let at = At(at: Date(timeIntervalSince1970: 1_717_228_800.5))
        #expect(
            text(try NamekoCoding.encode(at, dates: .isoString).serialized())
                == #"{"at": "2024-06-01T08:00:00.500000+00:00"}"#)
        #expect(
            text(try NamekoCoding.encode(at, dates: .kombuDatetime).serialized())
                == #"{"at": {"__type__": "datetime", "__value__": "2024-06-01T08:00:00.500000+00:00"}}"#)
    }

    @Test func aReplyThatIsNotJSONOrNotAnEnvelopeIsRefused() {
        #expect(throws: (any Error).self) {
            try NamekoRPCMessages.parseReply(body: Array("nope".utf8), contentType: "application/json")
        }
        #expect(throws: (any Error).self) {
            try NamekoRPCMessages.parseReply(body: Array("[1]".utf8), contentType: "application/json")
        }
        #expect(throws: (any Error).self) {
            try NamekoRPCMessages.parseReply(body: Array(#"{"result": 1}"#.utf8), contentType: nil)
        }
    }

    @Test func aSwiftErrorBecomesAnErrorObjectWithItsTypeName() {
        struct Boom: Error, CustomStringConvertible {
            var description: String { "it broke" }
        }
        let error = NamekoRemoteError(from: Boom())
        #expect(error.excType == "Boom")
        #expect(error.excPath.hasSuffix("Boom"))
        #expect(error.excArgs == ["it broke"])
        #expect(error.value == "it broke")
    }
}

@Suite struct NamekoEventFormatTests {
    @Test func anEventIsWhatNamekosStandaloneDispatcherSends() throws {
        struct Greeted: Encodable {
            var name: String
        }
        // Captured: body b'{"name": "from standalone dispatcher"}', properties content_type,
        // content_encoding, headers {}, delivery_mode 2, priority 0.
        let body = try NamekoCoding.encode(Greeted(name: "from standalone dispatcher"), dates: .isoString).serialized()
        #expect(text(body) == #"{"name": "from standalone dispatcher"}"#)
        let properties = NamekoEventDispatcher.properties(context: nil)
        #expect(
            properties
                == BasicProperties(
                    contentType: "application/json", contentEncoding: "utf-8", headers: [:], deliveryMode: 2,
                    priority: 0))
        #expect(properties.flags == 0xF800)
    }
}

@Suite struct NamekoJSONTests {
    @Test(arguments: [
        #"{"b": [1, -2.5e3, true, false, null], "a": "x\"\\\/\n\u0001"}"#,
        #"[NaN, Infinity, -Infinity, 0, -0.0]"#,
        #""\ud83d\ude00 \ud800 e\u0301""#,
        " \t\n[]\r\n",
    ])
    func pythonsJSONParses(input: String) throws {
        let value = try NamekoJSON.parse(Array(input.utf8))
        // Writing it again and reading that gives the same value.
        #expect(try NamekoJSON.parse(value.serialized()) == value)
        _ = try NamekoJSON.parse(value.serialized(.foundation))
    }

    @Test func surrogatePairsAndLoneSurrogatesAreRead() throws {
        #expect(try NamekoJSON.parse(Array(#""\ud83d\ude00""#.utf8)) == .string("😀"))
        #expect(try NamekoJSON.parse(Array(#""\ud800x""#.utf8)) == .string("\u{FFFD}x"))
    }

    @Test func thePythonLayoutEscapesLikeJsonDumps() {
        let value = NamekoJSON.object(["k": .array([.string("é😀\u{7F}\u{1F}/"), .number("1.50"), .null])])
        #expect(text(value.serialized()) == #"{"k": ["\u00e9\ud83d\ude00\u007f\u001f/", 1.50, null]}"#)
        #expect(text(value.serialized(.foundation)) == "{\"k\":[\"é😀\u{7F}\\u001f/\",1.50,null]}")
    }

    @Test(arguments: [
        "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "-", "1e", "\"\\x\"", "\"\u{01}\"", "nul", "[1] 2", "\"\\u12\"",
        "{\"a\":1,}",
    ])
    func malformedJSONIsRefused(input: String) {
        #expect(throws: NamekoJSONError.self) { try NamekoJSON.parse(Array(input.utf8)) }
    }

    @Test func invalidUTF8IsRefused() {
        #expect(throws: NamekoJSONError.self) { try NamekoJSON.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func deepNestingIsRefusedNotACrash() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: NamekoJSONError.self) { try NamekoJSON.parse(Array(deep.utf8)) }
    }
}

@Suite struct PythonISODateTests {
    @Test(arguments: [
        (0.0, "1970-01-01T00:00:00+00:00"),
        (1_714_566_600, "2024-05-01T12:30:00+00:00"),
        (1_714_566_615.25, "2024-05-01T12:30:15.250000+00:00"),
        (-1.5, "1969-12-31T23:59:58.500000+00:00"),
        (951_782_400, "2000-02-29T00:00:00+00:00"),
    ])
    func formatsLikeIsoformat(seconds: Double, expected: String) {
        #expect(PythonISODate.format(Date(timeIntervalSince1970: seconds)) == expected)
        #expect(PythonISODate.parse(expected) == Date(timeIntervalSince1970: seconds))
    }

    @Test(arguments: [
        ("2024-06-01T08:00:00+00:00", 1_717_228_800.0),
        ("2024-06-01T10:00:00+02:00", 1_717_228_800),
        ("2024-06-01T03:30:00-04:30", 1_717_228_800),
        ("2024-06-01T08:00:00Z", 1_717_228_800),
        ("2024-06-01T08:00:00", 1_717_228_800),
        ("2024-06-01 08:00", 1_717_228_800),
        ("2024-06-01", 1_717_200_000),
        ("2024-06-01T08:00:00.123+00:00", 1_717_228_800.123),
    ])
    func readsWhatPythonWrites(input: String, seconds: Double) throws {
        let date = try #require(PythonISODate.parse(input))
        #expect(abs(date.timeIntervalSince1970 - seconds) < 0.000_001)
    }

    @Test(arguments: ["", "2024-6-1", "2024-13-01", "2024-06-01T25:00", "2024-06-01T08:00:00+0000", "2024-06-01x"])
    func refusesWhatIsNotADate(input: String) {
        #expect(PythonISODate.parse(input) == nil)
    }
}

@Suite struct NamekoContextTests {
    @Test func theCallIDStackGrowsAndKeepsElevenEntries() {
        let parents = (1...12).map { FieldValue.string("caller.call.\($0)") }
        let context = NamekoContext(
            service: "svc", method: "m",
            headers: [
                NamekoTopology.callIDStackHeader: .array(parents), "nameko.language": .string("en"),
                "plain": .string("x"),
            ], parentCallsTracked: 10, correlationID: nil, isRedelivery: false, attempt: 1,
            logger: MemoryLog().logger)
        #expect(context.callIDStack.count == 11)
        #expect(context.callIDStack.first == "caller.call.3")
        #expect(context.callIDStack.last == context.callID)
        #expect(context.callID.hasPrefix("svc.m."))
        #expect(context.data == ["language": .string("en"), "plain": .string("x")])
        let outgoing = context.outgoingHeaders
        #expect(outgoing["nameko.language"] == .string("en"))
        #expect(outgoing["nameko.plain"] == .string("x"))
        #expect(outgoing[NamekoTopology.callIDStackHeader] == .array(context.callIDStack.map(FieldValue.string)))
    }
}
