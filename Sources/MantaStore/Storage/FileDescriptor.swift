#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An owned POSIX file descriptor with the few operations the store needs, each retried on EINTR and
/// turned into a `StoreError` that names the file.
public struct FileDescriptor: ~Copyable {
    public let raw: Int32
    public let path: String

    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> FileDescriptor {
        let fd = retryingEINTR { Glibc.open(path, flags | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw StoreError.fromErrno(errno, path: path, operation: "open") }
        return FileDescriptor(raw: fd, path: path)
    }

    private init(raw: Int32, path: String) {
        self.raw = raw
        self.path = path
    }

    deinit { close(raw) }

    public func size() throws -> UInt64 {
        var info = stat()
        guard fstat(raw, &info) == 0 else { throw StoreError.fromErrno(errno, path: path, operation: "stat") }
        return UInt64(info.st_size)
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or fewer only at end of file; returns the count read.
    @discardableResult
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let count = retryingEINTR { pread(raw, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done)) }
            guard count >= 0 else { throw StoreError.fromErrno(errno, path: path, operation: "read") }
            if count == 0 { break }
            done += count
        }
        return done
    }

    public func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let got = try bytes.withUnsafeMutableBytes { buffer throws in try read(into: buffer, at: offset) }
        bytes.removeLast(count - got)
        return bytes
    }

    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < bytes.count {
            let count = retryingEINTR { pwrite(raw, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done)) }
            guard count > 0 else { throw StoreError.fromErrno(count == 0 ? EIO : errno, path: path, operation: "write") }
            done += count
        }
    }

    public func syncData() throws {
        guard fdatasync(raw) == 0 else { throw StoreError.fromErrno(errno, path: path, operation: "fsync") }
    }

    public func sync() throws {
        guard fsync(raw) == 0 else { throw StoreError.fromErrno(errno, path: path, operation: "fsync") }
    }
}

/// Repeats a system call that an interrupting signal stopped before it did anything.
public func retryingEINTR<T: BinaryInteger>(_ call: () -> T) -> T {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}

extension StoreError {
    static func fromErrno(_ code: Int32, path: String, operation: String) -> StoreError {
        switch code {
        case ENOSPC, EDQUOT: .diskFull(path: path)
        case EROFS, EACCES, EPERM: .notWritable(path: path, reason: "\(operation): \(String(cString: strerror(code)))")
        default: .io(path: path, operation: operation, errno: code)
        }
    }
}

/// Small file-system helpers for crash-safe writes.
public enum FileSystem {
    public static func syncDirectory(_ path: String) throws {
        let directory = try FileDescriptor.open(path, flags: O_RDONLY | O_DIRECTORY)
        try directory.sync()
    }

    /// Creates the folder and any missing parents. Usually only the last one is missing (a new chunk folder), so
    /// that is tried first and the parents only when it fails for want of them.
    public static func makeDirectories(_ path: String) throws {
        if mkdir(path, 0o755) == 0 || errno == EEXIST { return }
        guard errno == ENOENT, parent(of: path) != path else { throw StoreError.fromErrno(errno, path: path, operation: "create folder") }
        try makeDirectories(parent(of: path))
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw StoreError.fromErrno(errno, path: path, operation: "create folder") }
    }

    public enum Kind { case missing, regular, directory, other }

    /// What is at `path`, following links.
    public static func kind(of path: String) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { return .missing }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    public static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    /// Writes `bytes` to a temporary file in `temporaryDirectory` and renames it to `path`: readers see either the
    /// old file or all of `bytes`. When `durable`, the file is synced before the rename and the parent after it,
    /// so that holds after a crash too.
    /// `beforeRename`, when given, makes the written temporary durable instead of its own `fdatasync` (a `syncfs`
    /// that covers more than this file).
    public static func writeAtomically(
        _ bytes: UnsafeRawBufferPointer, to path: String, temporaryDirectory: String, durable: Bool = true, beforeRename: (() throws -> Void)? = nil
    ) throws {
        let temporary = temporaryDirectory + "/" + temporaryName()
        do {
            let file = try FileDescriptor.open(temporary, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o444)
            try file.write(bytes, at: 0)
            if let beforeRename {
                try beforeRename()
            } else if durable {
                try file.syncData()
            }
            guard rename(temporary, path) == 0 else { throw StoreError.fromErrno(errno, path: path, operation: "rename") }
        } catch {
            unlink(temporary)
            throw error
        }
        if durable { try syncDirectory(parent(of: path)) }
    }

    public static func writeAtomically(
        _ bytes: [UInt8], to path: String, temporaryDirectory: String, durable: Bool = true, beforeRename: (() throws -> Void)? = nil
    ) throws {
        try bytes.withUnsafeBytes { buffer throws in
            try writeAtomically(buffer, to: path, temporaryDirectory: temporaryDirectory, durable: durable, beforeRename: beforeRename)
        }
    }

    public static func readAll(_ path: String) throws -> [UInt8] {
        let file = try FileDescriptor.open(path, flags: O_RDONLY)
        return try file.read(count: Int(try file.size()), at: 0)
    }

    public static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    public static func temporaryName() -> String {
        "tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    }

    /// Names in a folder, without `.` and `..`; empty when the folder does not exist. Throws when it exists but
    /// cannot be read (no descriptor left, no permission, an I/O error): a caller must not take that for empty.
    public static func listing(of directory: String) throws -> [String] {
        guard let handle = opendir(directory) else {
            if errno == ENOENT { return [] }
            throw StoreError.fromErrno(errno, path: directory, operation: "list")
        }
        defer { closedir(handle) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(handle) else {
                guard errno == 0 else { throw StoreError.fromErrno(errno, path: directory, operation: "list") }
                return names.sorted()
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
    }

    /// `listing(of:)` for callers to whom a folder that cannot be read is as good as empty (clean-ups that the
    /// next run retries).
    public static func entries(of directory: String) -> [String] {
        (try? listing(of: directory)) ?? []
    }
}
