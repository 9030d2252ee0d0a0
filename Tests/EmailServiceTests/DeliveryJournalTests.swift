import Foundation
import Testing

@testable import EmailServiceCore

@Suite struct DeliveryJournalTests {
    static func temporaryPath() -> String {
        NSTemporaryDirectory() + "journal-\(UUID().uuidString)/delivered.log"
    }

    @Test func recordedIDsSurviveARestart() throws {
        let path = Self.temporaryPath()
        do {
            let journal = try DeliveryJournal(path: path, capacity: 10)
            try journal.record("a")
            try journal.record("b")
            try journal.record("a")
            #expect(journal.count == 2)
        }
        let reopened = try DeliveryJournal(path: path, capacity: 10)
        #expect(reopened.contains("a"))
        #expect(reopened.contains("b"))
        #expect(!reopened.contains("c"))
    }

    @Test func onlyTheNewestCapacityIDsAreKeptAndTheFileIsCompacted() throws {
        let path = Self.temporaryPath()
        let journal = try DeliveryJournal(path: path, capacity: 3)
        for n in 0..<10 { try journal.record("id-\(n)") }
        #expect(journal.count == 3)
        #expect(!journal.contains("id-6"))
        #expect(journal.contains("id-9"))
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        #expect(lines.count < 6)
        let reopened = try DeliveryJournal(path: path, capacity: 3)
        #expect(reopened.contains("id-7") && reopened.contains("id-8") && reopened.contains("id-9"))
        #expect(!reopened.contains("id-6"))
    }

    @Test func aTornLastLineAndGarbageAreIgnored() throws {
        let path = Self.temporaryPath()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let longLine = String(repeating: "x", count: 500)
        try "good-1\n\u{1b}[31mred\n\(longLine)\ngood-2\ntorn-without-newl".write(
            toFile: path, atomically: true, encoding: .utf8)
        let journal = try DeliveryJournal(path: path, capacity: 10)
        #expect(journal.contains("good-1"))
        #expect(journal.contains("good-2"))
        #expect(journal.count == 2)
        // Appending after a torn line must not glue the new id to it.
        try journal.record("next")
        let reopened = try DeliveryJournal(path: path, capacity: 10)
        #expect(reopened.contains("next"))
        #expect(reopened.contains("good-2"))
    }

    @Test func idsThatCannotBeJournalledAreRefused() throws {
        let journal = try DeliveryJournal(path: Self.temporaryPath(), capacity: 10)
        #expect(throws: JournalError.self) { try journal.record("") }
        #expect(throws: JournalError.self) { try journal.record("a\nb") }
        #expect(throws: JournalError.self) { try journal.record(String(repeating: "y", count: 201)) }
    }

    @Test func anUnwritableLocationIsAClearError() {
        let error = #expect(throws: (any Error).self) {
            _ = try DeliveryJournal(path: "/proc/not-here/journal.log")
        }
        #expect(error != nil)
    }
}
