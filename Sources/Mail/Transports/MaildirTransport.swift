import Foundation
public import Observability
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A Maildir write that failed. Always transient: a full disk, a quota or a permission can be
/// fixed and the delivery tried again.
public struct MaildirError: MailError, Hashable {
    /// The file or folder the failing call was about.
    public var path: String
    /// What failed and the system's words for why.
    public var message: String
    /// The `errno` value.
    public var code: Int32

    public init(path: String, message: String, code: Int32) {
        self.path = path
        self.message = message
        self.code = code
    }

    public var isTransient: Bool { true }

    public var description: String { "Maildir \(path): \(message)" }
}

/// Delivers each message as a file in a Maildir folder, the way a mail server delivers locally:
/// written and synced under `tmp/`, then renamed into `new/`, so a reader never sees half a
/// message and a crash loses none that was reported delivered.
///
/// - The folder (with its parents) and its `tmp`, `new` and `cur` are created (mode 0700) when
///   missing.
/// - File names follow the Maildir convention, unique without locks:
///   `seconds.MmicrosecondsPpidQcounterRrandom.host`.
/// - The file is fsynced before the rename and the `new` folder after it.
/// - Lines end with LF in the file, as Maildir readers (Dovecot, mutt, Python's `mailbox`) expect;
///   the message is otherwise the bytes SMTP would carry.
///
/// The file system work runs on a thread of its own, never on Swift concurrency's pool.
public struct MaildirTransport: MailTransport {
    /// The Maildir folder (the one that holds `tmp`, `new` and `cur`).
    public var directory: String
    public var logger: Logger?

    public init(directory: String, logger: Logger? = nil) {
        self.directory = directory
        self.logger = logger
    }

    public var name: String { "maildir" }

    /// Writes `message` into `new/`; the receipt's detail is the file's path.
    ///
    /// - Throws: ``MaildirError`` when a folder cannot be created or the file cannot be written,
    ///   synced or renamed (the half-written file is removed).
    public func deliver(_ message: EmailMessage) async throws -> DeliveryReceipt {
        let directory = directory
        let path = try await onDedicatedThread(name: "maildir") {
            try Maildir.deliver(message.bytes, into: directory)
        }
        logger?.debug("written to Maildir", metadata: ["message-id": message.messageID.value, "path": path])
        return DeliveryReceipt(
            transport: name, messageID: message.messageID, recipients: message.recipients, detail: path)
    }
}

/// The blocking file system steps of a Maildir delivery.
enum Maildir {
    private static let counter = Atomic<UInt64>(0)

    /// Writes `message` (CRLF line endings) into `directory/new` and returns the file's path.
    static func deliver(_ message: [UInt8], into directory: String) throws(MaildirError) -> String {
        let root = directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
        var created = try makeDirectory(root)
        for sub in ["tmp", "new", "cur"] { created = try makeDirectory("\(root)/\(sub)") || created }
        if created { try syncDirectory(root) }

        let name = uniqueName()
        let temporary = "\(root)/tmp/\(name)"
        let final = "\(root)/new/\(name)"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure(temporary, "cannot create") }
        do throws(MaildirError) {
            try writeAll(fd, lf(message), path: temporary)
            guard fsync(fd) == 0 else { throw failure(temporary, "fsync failed") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard close(fd) == 0 else {
            let error = failure(temporary, "close failed")
            unlink(temporary)
            throw error
        }
        guard rename(temporary, final) == 0 else {
            let error = failure(final, "cannot move the message from tmp to new")
            unlink(temporary)
            throw error
        }
        try syncDirectory("\(root)/new")
        return final
    }

    /// `seconds.MmicrosecondsPpidQcounterRrandom.host`: the time, the process, a per-process
    /// counter and 64 random bits, so two deliveries never pick the same name, even across
    /// hosts sharing the folder.
    static func uniqueName() -> String {
        var now = timeval()
        gettimeofday(&now, nil)
        let count = counter.add(1, ordering: .relaxed).newValue
        var generator = SystemRandomNumberGenerator()
        let random = String(generator.next() as UInt64, radix: 16)
        return "\(now.tv_sec).M\(now.tv_usec)P\(getpid())Q\(count)R\(random).\(hostName())"
    }

    /// The host name with `/` and `:` written as `\057` and `\072`, as the convention asks.
    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard !name.isEmpty else { return "localhost" }
        return name.replacingOccurrences(of: "/", with: "\\057").replacingOccurrences(of: ":", with: "\\072")
    }

    /// CRLF as LF.
    static func lf(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for (index, byte) in bytes.enumerated() {
            if byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10 { continue }
            out.append(byte)
        }
        return out
    }

    /// Creates `path` if missing, and its missing parents; true if it created any.
    private static func makeDirectory(_ path: String) throws(MaildirError) -> Bool {
        if mkdir(path, 0o700) == 0 { return true }
        if errno == ENOENT, let slash = path.lastIndex(of: "/"), slash > path.startIndex {
            _ = try makeDirectory(String(path[..<slash]))
            if mkdir(path, 0o700) == 0 { return true }
        }
        guard errno == EEXIST else { throw failure(path, "cannot create the folder") }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw MaildirError(path: path, message: "exists and is not a folder", code: ENOTDIR)
        }
        return false
    }

    private static func syncDirectory(_ path: String) throws(MaildirError) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, "cannot open the folder to sync it") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure(path, "fsync of the folder failed") }
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(MaildirError) {
        let result = bytes.withUnsafeBytes { raw -> Int32 in
            var offset = 0
            while offset < raw.count {
                let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
        guard result == 0 else {
            throw MaildirError(path: path, message: "write failed: \(String(cString: strerror(result)))", code: result)
        }
    }

    private static func failure(_ path: String, _ what: String) -> MaildirError {
        let code = errno
        return MaildirError(path: path, message: "\(what): \(String(cString: strerror(code)))", code: code)
    }
}
