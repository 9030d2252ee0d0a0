import Foundation
import Messaging
import ServiceSupport
import Synchronization

/// The ids of commands whose email was delivered, kept in a local file that survives restarts,
/// so a redelivered command (same message id) is not sent twice.
///
/// Bounded: the newest `capacity` ids are remembered; the file is an append-only list of ids, one
/// per line, each append flushed with `fsync` before the command is acked, and rewritten (to a
/// temporary file, then renamed) when it holds twice `capacity` lines. A torn last line from a
/// crash, an over-long line or a line with control characters is ignored on load.
///
/// The window: if the process dies after the email went out but before the id is written, the
/// redelivered command is sent again. No local journal can close that gap with SMTP, which has
/// no idempotency key; it is as narrow as one `fsync`.
public final class DeliveryJournal: Sendable {
    public let path: String
    public let capacity: Int
    static let maximumIDLength = 200

    private struct State {
        var file: AppendOnlyFile
        var linesInFile = 0
    }

    /// The ids remembered, newest `capacity` (its own lock; `state` orders the writes).
    private let ids: RecentMessageIDs
    private let state: Mutex<State>

    /// Opens (creating if needed) the journal at `path`. Throws when the file cannot be opened or
    /// written, with the path and the system's reason.
    public init(path: String, capacity: Int = 100_000) throws {
        self.path = path
        self.capacity = max(1, capacity)
        ids = RecentMessageIDs(capacity: self.capacity)
        var lines = 0
        for id in try Self.load(path: path, limitBytes: self.capacity * 2 * (Self.maximumIDLength + 1)) {
            _ = ids.insert(id)
            lines += 1
        }
        // AppendOnlyFile ends a line torn by a crash, which would otherwise swallow the next id.
        state = Mutex(State(file: try AppendOnlyFile(path: path), linesInFile: lines))
    }

    /// Whether `id` was recorded as delivered.
    public func contains(_ id: String) -> Bool { ids.contains(id) }

    /// How many ids are remembered.
    public var count: Int { ids.count }

    /// Records `id` as delivered, durably (written and fsynced) before returning.
    public func record(_ id: String) throws {
        guard Self.isValid(id) else { throw JournalError("message id is not journalable: '\(id.prefix(40))'") }
        try state.withLock { s throws(DurableFileError) in
            guard !ids.contains(id) else { return }
            try s.file.append(Array((id + "\n").utf8))
            _ = ids.insert(id)
            s.linesInFile += 1
            if s.linesInFile >= 2 * capacity {
                // Rewrite with only the remembered ids, atomically.
                let remembered = ids.oldestFirst
                try s.file.replace(with: Array(remembered.map { $0 + "\n" }.joined().utf8))
                s.linesInFile = remembered.count
            }
        }
    }

    static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= maximumIDLength
            && !id.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }

    /// The ids in the file, oldest first, reading at most the last `limitBytes` bytes.
    static func load(path: String, limitBytes: Int) throws -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        let start = size > UInt64(limitBytes) ? size - UInt64(limitBytes) : 0
        try handle.seek(toOffset: start)
        let data = try handle.readToEnd() ?? Data()
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        // The last piece has no newline: empty, or a line torn by a crash. Either way, not an id.
        lines.removeLast()
        // Reading from the middle of the file starts mid-line.
        if start > 0, !lines.isEmpty { lines.removeFirst() }
        return lines.filter(isValid)
    }
}

public struct JournalError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
