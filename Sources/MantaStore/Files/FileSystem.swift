#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

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
