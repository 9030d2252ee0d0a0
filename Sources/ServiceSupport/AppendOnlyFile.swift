import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A file of records appended one at a time, each on disk (written and fsynced) before `append`
/// returns, and replaced whole atomically when compacted: the storage of the email service's
/// delivery journal and the web service's outbox.
///
/// Not thread-safe: the owner serialises calls (both owners hold it under their lock).
public final class AppendOnlyFile {
    public let path: String
    /// True when opening found a last line torn by a crash and ended it: that line is a record
    /// whose append never returned, so readers should skip it.
    public let endedTornLine: Bool
    private var fd: Int32

    /// Opens `path` for appending, creating it and its folder if needed. A last line torn by a
    /// crash (no final newline) is ended first, so the next record cannot be glued to it.
    public init(path: String) throws(DurableFileError) {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw DurableFileError("cannot create the folder \(directory): \(error.localizedDescription)")
            }
        }
        fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DurableFileError.system("cannot open \(path)") }
        endedTornLine = Self.endsWithoutNewline(path: path)
        if endedTornLine { try append([0x0A]) }
    }

    deinit { _ = close(fd) }

    /// Writes `bytes` at the end and fsyncs before returning.
    public func append(_ bytes: [UInt8]) throws(DurableFileError) {
        try Self.writeAll(bytes, to: fd, path: path)
        guard fsync(fd) == 0 else { throw DurableFileError.system("cannot fsync \(path)") }
    }

    /// Replaces the whole file with `bytes`: a temporary file written and fsynced, renamed over
    /// this one, then the folder fsynced, so a crash leaves either the old file or the new one.
    public func replace(with bytes: [UInt8]) throws(DurableFileError) {
        let temporary = path + ".tmp"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { throw DurableFileError.system("cannot create \(temporary)") }
        do throws(DurableFileError) {
            try Self.writeAll(bytes, to: out, path: temporary)
            guard fsync(out) == 0 else { throw DurableFileError.system("cannot fsync \(temporary)") }
        } catch {
            _ = close(out)
            throw error
        }
        _ = close(out)
        guard rename(temporary, path) == 0 else { throw DurableFileError.system("cannot replace \(path)") }
        let directory = (path as NSString).deletingLastPathComponent
        let folder = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            _ = close(folder)
        }
        let reopened = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
        guard reopened >= 0 else { throw DurableFileError.system("cannot reopen \(path)") }
        _ = close(fd)
        fd = reopened
    }

    private static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(DurableFileError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return write(fd, base + offset, raw.count - offset)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw DurableFileError.system("cannot write \(path)")
            }
            offset += n
        }
    }

    private static func endsWithoutNewline(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return false }
        try? handle.seek(toOffset: size - 1)
        return (try? handle.read(upToCount: 1))?.first != 0x0A
    }
}

/// A file operation that failed, with the path and the system's reason.
public struct DurableFileError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }

    static func system(_ what: String) -> DurableFileError {
        DurableFileError("\(what): \(String(cString: strerror(errno)))")
    }
}
