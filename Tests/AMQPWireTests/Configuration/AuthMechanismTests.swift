import Testing

@testable import AMQPWire

@Suite struct AuthMechanismTests {
    @Test func plainResponseIsNulUserNulPassword() throws {
        #expect(try AuthMechanism.plain.response(username: "guest", password: "guest") == Array("\0guest\0guest".utf8))
        #expect(try AuthMechanism.plain.response(username: "", password: "") == [0, 0])
        #expect(
            try AuthMechanism.plain.response(username: "jürgen", password: "pä ss")
                == [0] + Array("jürgen".utf8) + [0] + Array("pä ss".utf8))
    }

    @Test func amqplainResponseIsTableEntriesWithoutLengthPrefix() throws {
        let response = try AuthMechanism.amqplain.response(username: "guest", password: "secret")
        let expected: [UInt8] =
            [5] + Array("LOGIN".utf8) + [UInt8(ascii: "S"), 0, 0, 0, 5] + Array("guest".utf8)
            + [8] + Array("PASSWORD".utf8) + [UInt8(ascii: "S"), 0, 0, 0, 6] + Array("secret".utf8)
        #expect(response == expected)
    }

    @Test func amqplainUsesLongStringsForLongCredentials() throws {
        let password = String(repeating: "p", count: 300)
        let response = try AuthMechanism.amqplain.response(username: "u", password: password)
        let passwordEntry: [UInt8] =
            [8] + Array("PASSWORD".utf8) + [UInt8(ascii: "S"), 0, 0, 0x01, 0x2C] + Array(password.utf8)
        #expect(response.suffix(passwordEntry.count) == passwordEntry[...])
        #expect(response.count == 1 + 5 + 1 + 4 + 1 + passwordEntry.count)
    }

    @Test func externalResponseIsEmpty() throws {
        #expect(try AuthMechanism.external.response(username: "guest", password: "guest").isEmpty)
    }

    @Test(arguments: [
        ("PLAIN", AuthMechanism.plain), ("plain", .plain), ("AmqPlain", .amqplain), ("external", .external),
    ])
    func namesParseCaseInsensitively(name: String, mechanism: AuthMechanism) {
        #expect(AuthMechanism(name: name) == mechanism)
    }

    @Test(arguments: ["", "SCRAM-SHA-256", "plain ", "CRAM-MD5"])
    func unknownNamesDoNotParse(name: String) {
        #expect(AuthMechanism(name: name) == nil)
    }

    @Test func rawValuesAreTheSASLNames() {
        #expect(AuthMechanism.allCases.map(\.rawValue) == ["PLAIN", "AMQPLAIN", "EXTERNAL"])
    }
}
