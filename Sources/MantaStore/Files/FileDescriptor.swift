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
            let count = try readOnce(into: UnsafeMutableRawBufferPointer(rebasing: buffer[done...]), at: offset + UInt64(done))
            if count == 0 { break }
            done += count
        }
        return done
    }

    /// One `pread` into `buffer` at `offset`; returns the count read (0 at end of file). What a descriptor reading
    /// past the page cache needs: its reads must start at aligned offsets, so it cannot go on after a short one.
    public func readOnce(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        let count = retryingEINTR { pread(raw, buffer.baseAddress!, buffer.count, off_t(offset)) }
        guard count >= 0 else { throw StoreError.fromErrno(errno, path: path, operation: "read") }
        return count
    }

    public func read(count: Int, at offset: UInt64) throws -> [UInt8] {
        // Not zeroed first: the array holds only the bytes `pread` wrote, and clearing a chunk's megabytes before
        // reading over them cost a pull as much CPU as copying them.
        try [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            initialized = try read(into: UnsafeMutableRawBufferPointer(buffer), at: offset)
        }
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
