import CLinux

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// A file-shaped copy of a complete model file that a mount keeps in `passthroughDirectory` for the kernel's
    /// FUSE passthrough (MantaFS `PassthroughCopies`): a cache, built again from the chunks on the file's next open.
    public struct PassthroughCopy: Sendable, Hashable, Codable {
        /// The SHA-256 of the file it copies, which names it.
        public var digest: Digest
        /// Bytes deleting it frees: see `passthroughCopies()`.
        public var bytes: UInt64
        /// When it was last read (seconds since 1970): the least recently read go first.
        public var lastAccess: Int64
    }

    /// Where mounts keep the passthrough copies: `<sha256>` and its `<sha256>.seal`, beside transient `.building-*` files.
    public var passthroughDirectory: String { "\(root)/passthrough" }

    /// The copies present, the least recently read first.
    ///
    /// A copy counts its allocated blocks less the extents it shares with other files: on file systems with
    /// reflinks a copy is cloned from its chunk files (FICLONERANGE) and shares their extents, so counting its size,
    /// or all its blocks, would count those bytes twice and evict copies that cost nothing; where it was copied
    /// byte for byte, all its blocks are its own. Either way the count is what deleting the copy gives back.
    public func passthroughCopies() -> [PassthroughCopy] {
        guard let directory = opendir(passthroughDirectory) else { return [] }
        defer { closedir(directory) }
        var copies: [PassthroughCopy] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let digest = Digest(hex: name) else { continue }
            let descriptor = open("\(passthroughDirectory)/\(name)", O_RDONLY | O_CLOEXEC)
            guard descriptor >= 0 else { continue }
            defer { close(descriptor) }
            var information = stat()
            guard fstat(descriptor, &information) == 0 else { continue }
            let allocated = UInt64(clamping: information.st_blocks) * 512
            let shared = clinux_shared_extent_bytes(descriptor)
            copies.append(
                PassthroughCopy(digest: digest, bytes: allocated > shared ? allocated - shared : 0, lastAccess: Int64(information.st_atim.tv_sec)))
        }
        return copies.sorted { ($0.lastAccess, $0.digest) < ($1.lastAccess, $1.digest) }
    }

    /// Bytes the copies take, as `passthroughCopies()` counts them.
    public func passthroughBytes() -> UInt64 { passthroughCopies().reduce(0) { $0 + $1.bytes } }

    /// Bytes the quota compares with its watermarks: the chunk files and the passthrough copies.
    public func quotaUsedBytes() throws -> UInt64 { try storedBytes() + passthroughBytes() }

    /// Whether a file is open on the copy now (the kernel reads it for a file open through a mount); where the
    /// file system cannot say (no leases), it counts as open, so that it is kept.
    func isPassthroughCopyOpen(_ copy: PassthroughCopy) -> Bool {
        !withPassthroughCopyUnopened(copy) {}
    }

    /// Deletes the copy and its seal unless a file is open on it; true when it was deleted (or gone already).
    ///
    /// A copy open through a mount is never deleted: the kernel keeps reading it regardless, but its disk would come
    /// back only once the file closes, and the mount holds a backing file for it until then. A mount that finds its
    /// copy gone reads the file through the chunk path and builds the copy again.
    func removePassthroughCopyIfUnopened(_ copy: PassthroughCopy) -> Bool {
        let path = "\(passthroughDirectory)/\(copy.digest.hex)"
        return withPassthroughCopyUnopened(copy) {
            unlink(path)
            unlink("\(path).seal")
        } || (access(path, F_OK) != 0 && errno == ENOENT)
    }

    /// Runs `body` holding a write lease on the copy, which the kernel grants only while no other file is open on
    /// it, and which makes an open meanwhile (by the mount) wait until `body` returned; false without the lease.
    private func withPassthroughCopyUnopened(_ copy: PassthroughCopy, _ body: () -> Void) -> Bool {
        let descriptor = open("\(passthroughDirectory)/\(copy.digest.hex)", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        guard clinux_take_write_lease(descriptor) == 0 else { return false }
        body()
        return true
    }
}
