public import EmailContracts
public import Foundation
import ServiceSupport
import Synchronization

/// Emails the web service accepted, kept durably until the broker confirmed them, with the
/// status the email service reports back.
///
/// An append-only log file: `accepted` records (written and fsynced before the caller answers
/// 202), `published` records once the broker confirmed the command, and `status` records from
/// the email service's events. On start the log is replayed, so emails accepted while the broker
/// was down, or before a crash, are published after it. A crash between the broker's confirm and
/// the `published` record publishes that email again with the same message id; the email
/// service's journal drops the duplicate, so it is delivered once.
public final class Outbox: Sendable {
    public enum Status: String, Codable, Sendable {
        /// Accepted and stored; not yet confirmed by the broker.
        case accepted
        /// Confirmed by the broker; waiting for the email service.
        case queued
        case sent
        case failed
    }

    public struct Entry: Codable, Sendable, Equatable {
        /// The command's message id: the email's id in the API.
        public var id: String
        public var command: SendEmail
        public var acceptedAt: Date
        public var status: Status
        public var detail: String?
    }

    private struct Record: Codable {
        var kind: String  // accepted | published | status
        var id: String
        var command: SendEmail?
        var at: Date?
        var status: Status?
        var detail: String?
    }

    private struct State {
        var file: AppendOnlyFile
        var entries: [String: Entry] = [:]
        /// Accepted, not yet published, oldest first.
        var pending: [String] = []
        /// Newest last, bounded by `keptEntries`.
        var recent: [String] = []
        var records = 0
    }

    public let path: String
    /// How many finished emails are kept for the status page and API.
    public let keptEntries: Int
    private let state: Mutex<State>
    private let wakeup = AsyncWakeup()

    public init(path: String, keptEntries: Int = 1000) throws {
        self.path = path
        self.keptEntries = max(1, keptEntries)
        // Opened first: a record torn by a crash gets its line ended, so it reads as one unreadable
        // line instead of swallowing the next record appended after it.
        var loaded = State(file: try AppendOnlyFile(path: path))
        try Self.replay(path: path, into: &loaded, keep: self.keptEntries)
        state = Mutex(loaded)
        try state.withLock { s in try compactIfWorthIt(&s) }
    }

    // MARK: Accepting

    /// Stores `command` durably and returns its entry; the command is published later by
    /// ``publishPending(using:)``. Returns only after the record is on disk.
    public func accept(_ command: SendEmail, id: String = UUID().uuidString.lowercased()) throws -> Entry {
        let entry = Entry(id: id, command: command, acceptedAt: Date(), status: .accepted, detail: nil)
        try state.withLock { s in
            try append(Record(kind: "accepted", id: id, command: command, at: entry.acceptedAt), to: &s)
            s.entries[id] = entry
            s.pending.append(id)
            s.recent.append(id)
            trim(&s)
        }
        wakeup.signal()
        return entry
    }

    public func entry(_ id: String) -> Entry? { state.withLock { $0.entries[id] } }

    /// The newest emails first, at most `limit`.
    public func recent(limit: Int = 20) -> [Entry] {
        state.withLock { s in s.recent.suffix(limit).reversed().compactMap { s.entries[$0] } }
    }

    public var pendingCount: Int { state.withLock { $0.pending.count } }

    // MARK: Publishing

    /// Publishes pending emails oldest first with `send` (which must return only once the broker
    /// confirmed), marking each published. Stops at the first failure and returns it; the email
    /// stays pending. Returns nil when nothing is pending.
    @discardableResult
    public func publishPending(using send: (Entry) async throws -> Void) async -> (any Error)? {
        while let next = state.withLock({ s in s.pending.first.flatMap { s.entries[$0] } }) {
            do {
                try await send(next)
                try state.withLock { s in
                    try append(Record(kind: "published", id: next.id), to: &s)
                    s.pending.removeAll { $0 == next.id }
                    if s.entries[next.id]?.status == .accepted { s.entries[next.id]?.status = .queued }
                    // Past the kept window, a published entry is needed no longer.
                    if !s.recent.contains(next.id) { s.entries[next.id] = nil }
                    try compactIfWorthIt(&s)
                }
            } catch {
                return error
            }
        }
        return nil
    }

    /// Runs until cancelled: publishes whatever is pending, waits for new emails, and after a
    /// failure retries with a growing pause (up to `maximumPause`), calling `onFailure`.
    public func run(
        maximumPause: Duration = .seconds(5), send: @escaping @Sendable (Entry) async throws -> Void,
        onFailure: @escaping @Sendable (any Error) -> Void = { _ in }
    ) async {
        var pause: Duration = .milliseconds(100)
        while !Task.isCancelled {
            if let error = await publishPending(using: send) {
                onFailure(error)
                try? await Task.sleep(for: pause)
                pause = min(pause * 2, maximumPause)
            } else {
                pause = .milliseconds(100)
                await wakeup.wait(timeout: .seconds(1))
            }
        }
    }

    // MARK: Status from the email service

    /// Records what the email service reported for `id` (ignored for unknown ids).
    public func update(_ id: String, status: Status, detail: String? = nil) throws {
        try state.withLock { s in
            guard s.entries[id] != nil else { return }
            try append(Record(kind: "status", id: id, status: status, detail: detail), to: &s)
            s.entries[id]?.status = status
            s.entries[id]?.detail = detail
        }
    }

    // MARK: The log

    private func append(_ record: Record, to s: inout State) throws {
        var line = try Self.encoder.encode(record)
        line.append(0x0A)
        try s.file.append(Array(line))
        s.records += 1
    }

    private func trim(_ s: inout State) {
        // Forget the oldest finished entries past the limit; pending ones are never dropped.
        while s.recent.count > keptEntries, let oldest = s.recent.first {
            s.recent.removeFirst()
            if !s.pending.contains(oldest) { s.entries[oldest] = nil }
        }
    }

    /// Rewrites the log with only what is still needed once it holds many more records than that.
    private func compactIfWorthIt(_ s: inout State) throws {
        let live = s.entries.count
        guard s.records > 4 * max(live, 256) else { return }
        var data = Data()
        for entry in s.entries.values.sorted(by: { $0.acceptedAt < $1.acceptedAt }) {
            data.append(
                try Self.encoder.encode(
                    Record(kind: "accepted", id: entry.id, command: entry.command, at: entry.acceptedAt)))
            data.append(0x0A)
            if !s.pending.contains(entry.id) {
                data.append(try Self.encoder.encode(Record(kind: "published", id: entry.id)))
                data.append(0x0A)
            }
            if entry.status == .sent || entry.status == .failed {
                data.append(
                    try Self.encoder.encode(
                        Record(kind: "status", id: entry.id, status: entry.status, detail: entry.detail)))
                data.append(0x0A)
            }
        }
        try s.file.replace(with: Array(data))
        s.records = data.reduce(0) { $1 == 0x0A ? $0 + 1 : $0 }
    }

    private static func replay(path: String, into s: inout State, keep: Int) throws {
        guard let data = FileManager.default.contents(atPath: path) else { return }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var lines = data.split(separator: 0x0A, omittingEmptySubsequences: true)
        // A last line that had no newline was torn by a crash before its fsync returned: never
        // acknowledged (opening the file ended it with a newline).
        if s.file.endedTornLine, !lines.isEmpty { lines.removeLast() }
        var corrupt = 0
        for line in lines where !line.isEmpty {
            guard let record = try? decoder.decode(Record.self, from: Data(line)) else {
                corrupt += 1
                continue
            }
            s.records += 1
            switch record.kind {
            case "accepted":
                guard let command = record.command, s.entries[record.id] == nil else { continue }
                s.entries[record.id] = Entry(
                    id: record.id, command: command, acceptedAt: record.at ?? Date(), status: .accepted, detail: nil)
                s.pending.append(record.id)
                s.recent.append(record.id)
            case "published":
                s.pending.removeAll { $0 == record.id }
                if s.entries[record.id]?.status == .accepted { s.entries[record.id]?.status = .queued }
            case "status":
                if let status = record.status {
                    s.entries[record.id]?.status = status
                    s.entries[record.id]?.detail = record.detail
                }
            default:
                corrupt += 1
            }
        }
        if corrupt > 0 && s.records == 0 {
            throw OutboxError(
                "the outbox \(path) holds no readable records (\(corrupt) unreadable lines); refusing to overwrite it")
        }
        while s.recent.count > keep, let oldest = s.recent.first {
            s.recent.removeFirst()
            if !s.pending.contains(oldest) { s.entries[oldest] = nil }
        }
    }

    private static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }
}

public struct OutboxError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// Wakes one waiting task, or returns after a timeout; a signal with nobody waiting is kept.
final class AsyncWakeup: Sendable {
    private let state = Mutex<(pending: Bool, waiter: CheckedContinuation<Void, Never>?)>((false, nil))

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }

    func wait(timeout: Duration) async {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            self?.signal()
        }
        defer { timer.cancel() }
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Bool in
                if s.pending {
                    s.pending = false
                    return true
                }
                s.waiter = continuation
                return false
            }
            if ready { continuation.resume() }
        }
    }
}
