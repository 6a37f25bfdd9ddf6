import CSHA256

#if canImport(Glibc)
import Glibc
#endif

/// A read-only mapping of a byte range of a file, for hashing it where it lies in the page cache. Reading a
/// mapping where its file has since shrunk faults (SIGBUS), so its bytes are read only through `ChunkPairHasher`,
/// `WholeFileHash` and `copy`, which turn that fault into `shrank`'s error.
final class FileMapping {
    let path: String
    /// Where the range starts and ends in the file.
    let offset: UInt64
    let bytes: UnsafeRawBufferPointer
    private let mapped: UnsafeMutableRawBufferPointer?

    init(_ file: borrowing FileDescriptor, path: String, offset: UInt64, length: Int) throws {
        self.path = path
        self.offset = offset
        guard length > 0 else {
            mapped = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let pageStart = offset & ~UInt64(sysconf(Int32(_SC_PAGESIZE)) - 1)
        let lead = Int(offset - pageStart)
        guard let base = mmap(nil, lead + length, PROT_READ, MAP_SHARED, file.raw, off_t(pageStart)), base != MAP_FAILED else {
            throw StoreError.fromErrno(errno, path: path, operation: "map")
        }
        mapped = UnsafeMutableRawBufferPointer(start: base, count: lead + length)
        bytes = UnsafeRawBufferPointer(start: base + lead, count: length)
    }

    deinit {
        if let mapped { munmap(mapped.baseAddress, mapped.count) }
    }

    /// Copies `target.count` bytes from `start` (relative to the range).
    func copy(into target: UnsafeMutableRawBufferPointer, from start: Int = 0) throws {
        guard let destination = target.baseAddress, let source = bytes.baseAddress else { return }
        guard csha256_copy(destination, source + start, target.count) == 0 else { throw shrank() }
    }

    /// Whether the file is now shorter than this range's end: the reason a read of the range faulted.
    var fileShrank: Bool {
        var info = stat()
        return stat(path, &info) != 0 || UInt64(info.st_size) < offset + UInt64(bytes.count)
    }

    /// The error for a read that faulted.
    func shrank() -> StoreError {
        StoreError.io(path: path, operation: "read (file shrank while importing)", errno: EIO)
    }
}
