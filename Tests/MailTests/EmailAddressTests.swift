import Testing

@testable import Mail

@Suite struct EmailAddressTests {
    @Test(arguments: [
        "a@example.com",
        "john.smith@example.com",
        "user+tag@sub.example.co.uk",
        "o'brien@example.ie",
        "!#$%&'*+-/=?^_`{|}~@example.com",
        "x@localhost",
        "\"john smith\"@example.com",
        "\"a\\\"b\"@example.com",
        "\"a@b\"@example.com",
        "\"\"@example.com",
        "user@[192.0.2.1]",
        "user@[IPv6:2001:db8::1]",
        "user@xn--bcher-kva.example",
        "user@a-b.c-d.example",
        "1@2.example",
    ])
    func validAddressesAreAccepted(_ text: String) throws {
        let address = try EmailAddress(text)
        #expect(address.address == text)
        #expect("\(address.localPart)@\(address.domain)" == text)
    }

    @Test func localPartAndDomainAreSplitAtTheRightAt() throws {
        let address = try EmailAddress("\"a@b\"@example.com")
        #expect(address.localPart == "\"a@b\"")
        #expect(address.domain == "example.com")
    }

    @Test(arguments: [
        ("", EmailValidationError.Code.invalidAddress, "empty"),
        ("plainaddress", .invalidAddress, "no '@'"),
        ("@example.com", .invalidAddress, "nothing before the '@'"),
        ("user@", .invalidAddress, "no domain"),
        ("a@b@example.com", .invalidAddress, "more than one '@'"),
        ("john smith@example.com", .invalidAddress, "a space"),
        ("john,smith@example.com", .invalidAddress, "','"),
        (".john@example.com", .invalidAddress, "start or end with a dot"),
        ("john.@example.com", .invalidAddress, "start or end with a dot"),
        ("jo..hn@example.com", .invalidAddress, "two dots in a row"),
        ("user@exa_mple.com", .invalidAddress, "'_'"),
        ("user@example..com", .invalidAddress, "two dots in a row"),
        ("user@.example.com", .invalidAddress, "start or end with a dot"),
        ("user@example.com.", .invalidAddress, "start or end with a dot"),
        ("user@-example.com", .invalidAddress, "hyphen"),
        ("user@example-.com", .invalidAddress, "hyphen"),
        ("user@[300.1.1.1]", .invalidAddress, "address literal"),
        ("user@[example.com]", .invalidAddress, "address literal"),
        ("user@[IPv6:zz::1]", .invalidAddress, "address literal"),
        ("\"unclosed@example.com", .invalidAddress, "no closing quote"),
        ("\"quoted\"x@example.com", .invalidAddress, "followed by '@'"),
        (" user@example.com", .invalidAddress, "spaces at the start or end"),
        ("user@example.com ", .invalidAddress, "spaces at the start or end"),
        ("Ada <ada@example.com>", .invalidAddress, "a space"),
        ("user@example.com\r\nBcc: victim@example.com", .headerInjection, "line break"),
        ("user\n@example.com", .headerInjection, "line break"),
        ("user\0@example.com", .invalidAddress, "control character"),
        ("us\u{1b}er@example.com", .invalidAddress, "control character"),
        ("jörg@example.com", .unsupportedAddress, "SMTPUTF8"),
        ("user@bücher.example", .unsupportedAddress, "xn--"),
    ])
    func invalidAddressesSayWhatIsWrong(_ text: String, _ code: EmailValidationError.Code, _ phrase: String) {
        let error = #expect(throws: EmailValidationError.self) { try EmailAddress(text) }
        #expect(error?.code == code)
        #expect(error?.field == "address")
        #expect(error?.message.contains(phrase) == true, "\(error?.message ?? "")")
        #expect(error?.isTransient == false)
    }

    @Test func lengthLimitsFollowRFC5321() throws {
        let local64 = String(repeating: "a", count: 64)
        _ = try EmailAddress("\(local64)@example.com")
        let error = #expect(throws: EmailValidationError.self) { try EmailAddress("a\(local64)@example.com") }
        #expect(error?.code == .addressTooLong)
        #expect(error?.message.contains("at most 64") == true)

        let label63 = String(repeating: "b", count: 63)
        _ = try EmailAddress("a@\(label63).example")
        let labelError = #expect(throws: EmailValidationError.self) { try EmailAddress("a@b\(label63).example") }
        #expect(labelError?.code == .addressTooLong)

        // 254 octets in all: 64 + 1 + 189.
        let domain189 = [String](repeating: String(repeating: "c", count: 62), count: 3).joined(separator: ".") + ".d"
        #expect(domain189.utf8.count == 190)
        _ = try EmailAddress("\(String(repeating: "a", count: 63))@\(domain189)")
        let tooLong = #expect(throws: EmailValidationError.self) {
            try EmailAddress("\(local64)@\(domain189)")
        }
        #expect(tooLong?.code == .addressTooLong)
        #expect(tooLong?.message.contains("255 characters long; at most 254") == true, "\(tooLong?.message ?? "")")
    }

    @Test func validDomainsForTheHeloName() {
        #expect(AddressParser.isValidDomain("mail.example.com"))
        #expect(AddressParser.isValidDomain("localhost"))
        #expect(AddressParser.isValidDomain("[127.0.0.1]"))
        #expect(!AddressParser.isValidDomain(""))
        #expect(!AddressParser.isValidDomain("bad name"))
        #expect(!AddressParser.isValidDomain("x\r\nMAIL FROM:<a@b>"))
    }
}
