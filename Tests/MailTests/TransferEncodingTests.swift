import Foundation
import Testing

@testable import Mail

@Suite struct TransferEncodingTests {
    static let bodies: [String] = [
        "Hello\n",
        "no final newline",
        "",
        "CRLF\r\nand LF\nand lone CR\rend",
        String(repeating: "x", count: 300),
        String(repeating: "=", count: 100),
        String(repeating: "a ", count: 100) + "   \n",
        "trailing space \ntrailing tab\t\n",
        ".starts with a dot\n..two dots\n.\n",
        "From the start\n",
        "Grüße, Jörg — 🎉\n" + String(repeating: "ü", count: 200),
        String(repeating: "Привет мир! ", count: 50),
        "\u{0}\u{1}\u{7f} control bytes",
    ]

    @Test(arguments: bodies)
    func bodiesRoundTripInLinesOfAtMostSeventySixCharacters(_ body: String) throws {
        let canonical = BodyEncoding.canonicalLines(body)
        let (encoding, encoded) = BodyEncoding.encode(canonical)
        let lines = String(decoding: encoded, as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines.last == "")
        for line in lines {
            #expect(line.utf8.count <= 76, "\(line)")
            #expect(!line.contains("\r") && !line.contains("\n"))
            #expect(line.utf8.allSatisfy { $0 >= 32 && $0 < 127 || $0 == 9 })
        }
        let decoded = encoding == .quotedPrintable ? Decode.quotedPrintable(encoded) : Decode.base64Lines(encoded)
        #expect(decoded == canonical)
    }

    @Test func canonicalFormHasCRLFLineBreaksAndAFinalOne() {
        #expect(BodyEncoding.canonicalLines("a\nb\r\nc\rd") == Array("a\r\nb\r\nc\r\nd\r\n".utf8))
        #expect(BodyEncoding.canonicalLines("") == Array("\r\n".utf8))
        #expect(BodyEncoding.canonicalLines("a\r\n") == Array("a\r\n".utf8))
        #expect(BodyEncoding.canonicalLines("a\r\r\n") == Array("a\r\n\r\n".utf8))
    }

    @Test func quotedPrintableEncodesEqualsTrailingSpaceAndNonASCII() {
        let encoded = BodyEncoding.quotedPrintable(Array("a=b \r\nü\t\r\n".utf8))
        #expect(String(decoding: encoded, as: UTF8.self) == "a=3Db=20\r\n=C3=BC=09\r\n")
    }

    @Test func quotedPrintableSoftBreaksNeverSplitAnEscape() {
        let encoded = BodyEncoding.quotedPrintable(Array((String(repeating: "ü", count: 40) + "\r\n").utf8))
        let lines = String(decoding: encoded, as: UTF8.self).components(separatedBy: "\r\n").dropLast()
        #expect(lines.count > 1)
        for line in lines.dropLast() {
            #expect(line.hasSuffix("="))
            #expect(line.utf8.count <= 76)
            #expect(!line.dropLast().hasSuffix("=") || line.dropLast().dropLast(2).hasSuffix("="))
        }
    }

    @Test func aLineOfExactlySeventySixCharactersIsNotBroken() {
        let line = String(repeating: "x", count: 76)
        let encoded = BodyEncoding.quotedPrintable(Array((line + "\r\n").utf8))
        #expect(String(decoding: encoded, as: UTF8.self) == line + "\r\n")
        let longer = BodyEncoding.quotedPrintable(Array((line + "x\r\n").utf8))
        #expect(String(decoding: longer, as: UTF8.self) == String(repeating: "x", count: 75) + "=\r\nxx\r\n")
    }

    @Test func base64MatchesFoundation() {
        for count in 0..<10 {
            let bytes = (0..<count).map { UInt8($0 * 37 % 256) }
            #expect(String(decoding: BodyEncoding.base64(bytes), as: UTF8.self) == Data(bytes).base64EncodedString())
        }
    }

    @Test func mostlyNonASCIITextIsBase64AndASCIIIsQuotedPrintable() {
        #expect(BodyEncoding.encode(BodyEncoding.canonicalLines("plain text")).0 == .quotedPrintable)
        #expect(BodyEncoding.encode(BodyEncoding.canonicalLines(String(repeating: "日本語", count: 30))).0 == .base64)
    }
}
