import CSHA256

#if canImport(Glibc)
import Glibc
#endif

/// A read-only mapping of a byte range of a file, for hashing it where it lies in the page cache. Reading a
/// mapping where its file has since shrunk faults (SIGBUS), so its bytes are read only through `ChunkPairHasher`
/// and `copy`, which turn that fault into `shrank`'s error.
///
/// `@unchecked Sendable`: immutable, and the memory it points to is read-only; a lane hands it to its writer.
final class FileMapping: @unchecked Sendable {
    let path: String
    /// Where the range starts and ends in the file.
    let offset: UInt64
    let bytes: UnsafeRawBufferPointer
    /// The range's bytes with the `preceding` bytes before it.
    let extended: UnsafeRawBufferPointer
    private let mapped: UnsafeMutableRawBufferPointer?

    /// `preceding` (at most `offset`) more bytes before the range are mapped too: a whole-file hash over the same
    /// pass carries a partial block over from the range before.
    init(_ file: borrowing FileDescriptor, path: String, offset: UInt64, length: Int, preceding: Int = 0) throws {
        self.path = path
        self.offset = offset
        guard length + preceding > 0 else {
            mapped = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            extended = bytes
            return
        }
        let start = offset - UInt64(preceding)
        let pageStart = start & ~UInt64(sysconf(Int32(_SC_PAGESIZE)) - 1)
        let lead = Int(start - pageStart)
        guard let base = mmap(nil, lead + preceding + length, PROT_READ, MAP_SHARED, file.raw, off_t(pageStart)), base != MAP_FAILED else {
            throw StoreError.fromErrno(errno, path: path, operation: "map")
        }
        mapped = UnsafeMutableRawBufferPointer(start: base, count: lead + preceding + length)
        extended = UnsafeRawBufferPointer(start: base + lead, count: preceding + length)
        bytes = UnsafeRawBufferPointer(start: base + lead + preceding, count: length)
    }

    deinit {
        if let mapped { munmap(mapped.baseAddress, mapped.count) }
    }

    /// Copies `target.count` bytes from `start` (relative to the range).
    func copy(into target: UnsafeMutableRawBufferPointer, from start: Int = 0) throws {
        guard let destination = target.baseAddress, let source = bytes.baseAddress else { return }
        guard csha256_copy(destination, source + start, target.count) == 0 else { throw shrank() }
    }

    /// Hands `body` the bytes in order, copied piece by piece: OpenSSL cannot read a mapping safely.
    func forEachPiece(_ body: (UnsafeRawBufferPointer) -> Void) throws {
        let piece = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.pieceBytes, alignment: 64)
        defer { piece.deallocate() }
        var done = 0
        while done < bytes.count {
            let part = UnsafeMutableRawBufferPointer(rebasing: piece[0..<min(Self.pieceBytes, bytes.count - done)])
            try copy(into: part, from: done)
            body(UnsafeRawBufferPointer(part))
            done += part.count
        }
    }

    /// Lets the kernel take back this process's pages of the range's first `count` bytes, kept in the page cache:
    /// a later read maps them again.
    func releasePages(before count: Int) {
        guard let base = mapped?.baseAddress, let start = bytes.baseAddress else { return }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        let whole = UnsafeRawPointer(base).distance(to: start + count) / pageSize * pageSize
        if whole > 0 { madvise(base, whole, MADV_DONTNEED) }
    }

    /// Small enough to stay in the cache between the copy and its reader.
    static let pieceBytes = 256 << 10

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
