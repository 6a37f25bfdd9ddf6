import MantaStore

/// One file as the hub server describes and serves it.
struct ServedFile: Sendable, Hashable {
    var path: String
    var diskPath: String
    var size: Int64
    var sha256: Digest
    var isLFS: Bool

    /// The text git would hold in place of an LFS file.
    var lfsPointer: String { "version https://git-lfs.github.com/spec/v1\noid sha256:\(sha256.hex)\nsize \(size)\n" }

    /// A stand-in for git's blob id (which is SHA-1): the first 40 hex digits of the SHA-256 of what git would store.
    var blobID: String {
        String((isLFS ? SHA256Hasher.hash(Array(lfsPointer.utf8)) : sha256).hex.prefix(40))
    }

    /// What `resolve` answers as `ETag`: the LFS oid for LFS files, the blob id for the others (as the real hub does).
    var etag: String { isLFS ? sha256.hex : blobID }

    var hubFile: HubFile {
        HubFile(
            path: path,
            size: size,
            blobID: blobID,
            lfs: isLFS ? HubFile.LFS(sha256: sha256, size: size, pointerSize: lfsPointer.utf8.count) : nil
        )
    }
}
