#if canImport(Glibc)
import Glibc
#endif

/// What a chunk file looked like right after its bytes were checked against its id: inode, size and change
/// times. The kernel sets a file's change time on every write, rename or chmod and nothing in user space can set
/// it back, so a file whose seal still matches holds the bytes that were checked: readers (the mount) serve it
/// without hashing it again. Damage that bypasses the kernel (bit rot on the disk) leaves the seal intact; that
/// is what `manta verify`'s full rehash is for.
public struct ChunkSeal: Sendable, Hashable {
    public var inode: UInt64
    public var size: UInt64
    public var changeNanoseconds: Int64
    public var modificationNanoseconds: Int64

    public init(_ information: stat) {
        inode = UInt64(information.st_ino)
        size = UInt64(information.st_size)
        changeNanoseconds = Self.nanoseconds(information.st_ctim)
        modificationNanoseconds = Self.nanoseconds(information.st_mtim)
    }

    /// The seal of the file at `path` as it is now; nil if it cannot be looked at.
    public init?(path: String) {
        var information = stat()
        guard stat(path, &information) == 0 else { return nil }
        self.init(information)
    }

    /// The seal of an open file as it is now; nil if it cannot be looked at.
    public init?(descriptor: Int32) {
        var information = stat()
        guard fstat(descriptor, &information) == 0 else { return nil }
        self.init(information)
    }

    /// The form kept in the metadata database.
    var text: String { "\(inode):\(size):\(changeNanoseconds):\(modificationNanoseconds)" }

    init?(text: String) {
        let parts = text.split(separator: ":")
        guard parts.count == 4, let inode = UInt64(parts[0]), let size = UInt64(parts[1]),
            let change = Int64(parts[2]), let modification = Int64(parts[3])
        else { return nil }
        self.inode = inode
        self.size = size
        changeNanoseconds = change
        modificationNanoseconds = modification
    }

    private static func nanoseconds(_ time: timespec) -> Int64 {
        Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
    }
}
