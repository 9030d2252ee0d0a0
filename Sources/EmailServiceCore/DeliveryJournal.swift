import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

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
        var fd: Int32
        var ids = RecentIDs()
        var linesInFile = 0
    }

    private let state: Mutex<State>

    /// Opens (creating if needed) the journal at `path`. Throws when the file cannot be opened or
    /// written, with the path and the system's reason.
    public init(path: String, capacity: Int = 100_000) throws {
        self.path = path
        self.capacity = max(1, capacity)
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        var ids = RecentIDs()
        var lines = 0
        for id in try Self.load(path: path, limitBytes: self.capacity * 2 * (Self.maximumIDLength + 1)) {
            ids.insert(id, capacity: self.capacity)
            lines += 1
        }
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw JournalError("cannot open the delivery journal \(path): \(String(cString: strerror(errno)))")
        }
        // A line torn by a crash would swallow the next id: end it first.
        if Self.endsWithoutNewline(path: path) {
            var newline: UInt8 = 0x0A
            _ = write(fd, &newline, 1)
        }
        state = Mutex(State(fd: fd, ids: ids, linesInFile: lines))
    }

    static func endsWithoutNewline(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return false }
        try? handle.seek(toOffset: size - 1)
        return (try? handle.read(upToCount: 1))?.first != 0x0A
    }

    deinit {
        state.withLock { _ = close($0.fd) }
    }

    /// Whether `id` was recorded as delivered.
    public func contains(_ id: String) -> Bool { state.withLock { $0.ids.contains(id) } }

    /// How many ids are remembered.
    public var count: Int { state.withLock { $0.ids.count } }

    /// Records `id` as delivered, durably (written and fsynced) before returning.
    public func record(_ id: String) throws {
        guard Self.isValid(id) else { throw JournalError("message id is not journalable: '\(id.prefix(40))'") }
        try state.withLock { s in
            guard !s.ids.contains(id) else { return }
            let line = Array((id + "\n").utf8)
            try line.withUnsafeBytes { raw in
                guard let base = raw.baseAddress else { return }
                var offset = 0
                while offset < raw.count {
                    let n = write(s.fd, base + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw JournalError(
                            "cannot write the delivery journal \(path): \(String(cString: strerror(errno)))")
                    }
                    offset += n
                }
            }
            guard fsync(s.fd) == 0 else {
                throw JournalError("cannot fsync the delivery journal \(path): \(String(cString: strerror(errno)))")
            }
            s.ids.insert(id, capacity: capacity)
            s.linesInFile += 1
            if s.linesInFile >= 2 * capacity { try compact(&s) }
        }
    }

    /// Rewrites the file with only the remembered ids: temporary file, fsync, rename, fsync folder.
    private func compact(_ s: inout State) throws {
        let temporary = path + ".tmp"
        let text = s.ids.inOrder.map { $0 + "\n" }.joined()
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw JournalError("cannot compact the delivery journal: \(String(cString: strerror(errno)))")
        }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { raw in raw.baseAddress.map { write(fd, $0, raw.count) } ?? 0 }
        guard written == bytes.count, fsync(fd) == 0 else {
            _ = close(fd)
            throw JournalError("cannot compact the delivery journal: \(String(cString: strerror(errno)))")
        }
        _ = close(fd)
        guard rename(temporary, path) == 0 else {
            throw JournalError("cannot replace the delivery journal: \(String(cString: strerror(errno)))")
        }
        let directory = (path as NSString).deletingLastPathComponent
        let dirFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if dirFD >= 0 {
            _ = fsync(dirFD)
            _ = close(dirFD)
        }
        let reopened = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard reopened >= 0 else {
            throw JournalError("cannot reopen the delivery journal: \(String(cString: strerror(errno)))")
        }
        _ = close(s.fd)
        s.fd = reopened
        s.linesInFile = s.ids.count
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

/// An insertion-ordered set that forgets the oldest past a capacity.
struct RecentIDs {
    private var members: Set<String> = []
    private var order: [String] = []
    private var head = 0

    var count: Int { members.count }
    func contains(_ id: String) -> Bool { members.contains(id) }

    mutating func insert(_ id: String, capacity: Int) {
        guard !members.contains(id) else { return }
        members.insert(id)
        if order.count < capacity {
            order.append(id)
        } else {
            members.remove(order[head])
            order[head] = id
            head = (head + 1) % capacity
        }
    }

    var inOrder: [String] { Array(order[head...] + order[..<head]) }
}
