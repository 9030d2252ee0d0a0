import Foundation
import Synchronization
import Testing

@testable import Mail

@Suite struct ConsoleTransportTests {
    @Test func printsRecipientSubjectAndBodyBetweenDelimiters() async throws {
        let printed = Mutex<[String]>([])
        let transport = ConsoleTransport { text in printed.withLock { $0.append(text) } }
        let message = try EmailMessage(
            from: Mailbox("noreply@example.com"), to: [Mailbox("ada@example.org", displayName: "Ada")],
            subject: "Grüße", body: "Line one\r\nLine two", messageID: MessageID("<1.x@example.com>"))
        let receipt = try await transport.deliver(message)
        #expect(receipt.transport == "console")
        #expect(receipt.recipients.map(\.address) == ["ada@example.org"])
        let text = try #require(printed.withLock { $0.first })
        #expect(
            text == """
                ==================== email ====================
                To: Ada <ada@example.org>
                Subject: Grüße
                Message-ID: <1.x@example.com>

                Line one
                Line two
                ================ end of email =================

                """)
    }

    @Test func terminalControlCharactersInTheBodyAreEscaped() throws {
        let message = try EmailMessage(
            from: "a@example.com", to: "b@example.com", subject: "s", body: "red \u{1b}[31mtext\u{7}\ttab\n")
        let text = ConsoleTransport.render(message)
        #expect(!text.unicodeScalars.contains("\u{1b}"))
        #expect(text.contains("red \\u{1b}[31mtext\\u{7}\ttab\n"))
    }
}

@Suite struct MaildirTransportTests {
    static func withTemporaryFolder<T>(_ body: (String) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("maildir-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await body(folder.path)
    }

    @Test func createsTheFoldersAndWritesTheMessageIntoNew() async throws {
        try await Self.withTemporaryFolder { root in
            let transport = MaildirTransport(directory: root + "/Inbox")
            let message = try EmailMessage(
                from: "noreply@example.com", to: "ada@example.org", subject: "Grüße", body: ".dot\nÜmlaut\n")
            let receipt = try await transport.deliver(message)
            let files = FileManager.default
            for sub in ["tmp", "new", "cur"] {
                var isDirectory: ObjCBool = false
                #expect(files.fileExists(atPath: "\(root)/Inbox/\(sub)", isDirectory: &isDirectory))
                #expect(isDirectory.boolValue)
            }
            #expect(try files.contentsOfDirectory(atPath: "\(root)/Inbox/tmp").isEmpty)
            let delivered = try files.contentsOfDirectory(atPath: "\(root)/Inbox/new")
            #expect(delivered.count == 1)
            #expect(receipt.detail == "\(root)/Inbox/new/\(delivered[0])")
            #expect(receipt.transport == "maildir")
            let content = try Data(contentsOf: URL(fileURLWithPath: receipt.detail))
            let expected = String(decoding: message.bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n")
            #expect(String(decoding: content, as: UTF8.self) == expected)
            #expect(!content.contains(13))
            let attributes = try files.attributesOfItem(atPath: receipt.detail)
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }

    @Test func namesFollowTheConventionAndAreUniqueUnderConcurrency() async throws {
        try await Self.withTemporaryFolder { root in
            let transport = MaildirTransport(directory: root)
            let message = try EmailMessage(from: "a@example.com", to: "b@example.com", subject: "s", body: "b")
            let paths = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<50 { group.addTask { try await transport.deliver(message).detail } }
                var paths: [String] = []
                for try await path in group { paths.append(path) }
                return paths
            }
            #expect(Set(paths).count == 50)
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/new").count == 50)
            let name = URL(fileURLWithPath: paths[0]).lastPathComponent
            #expect(name.wholeMatch(of: /[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+R[0-9a-f]+\.[^\/:]+/) != nil, "\(name)")
        }
    }

    @Test func hostNameSlashesAndColonsAreEscaped() {
        #expect(!Maildir.hostName().contains("/"))
        #expect(!Maildir.hostName().contains(":"))
    }

    @Test func aFileWhereTheFolderShouldBeIsATransientError() async throws {
        try await Self.withTemporaryFolder { root in
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: root + "/new", contents: Data("not a folder".utf8))
            let message = try EmailMessage(from: "a@example.com", to: "b@example.com", subject: "s", body: "b")
            let error = try await #require(throws: MaildirError.self) {
                try await MaildirTransport(directory: root).deliver(message)
            }
            #expect(error.path == root + "/new")
            #expect(error.isTransient)
            #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").isEmpty)
        }
    }
}
