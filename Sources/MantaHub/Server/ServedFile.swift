import MantaStore

/// One file as the hub server describes and serves it.
struct ServedFile: Sendable, Hashable {
    var path: String
    var diskPath: String
    var size: Int64
    var sha256: Digest
    var isLFS: Bool
    /// The git blob id of the content (`GitBlobHasher`), computed for files served outside LFS.
    var contentBlobID: String?

    /// The text git would hold in place of an LFS file.
    var lfsPointer: String { "version https://git-lfs.github.com/spec/v1\noid sha256:\(sha256.hex)\nsize \(size)\n" }

    /// Git's blob id of what git would store, as the real hub gives it: the pointer file for LFS files, the content
    /// for the others (which clients check it against).
    var blobID: String {
        isLFS ? GitBlobHasher.blobID(of: Array(lfsPointer.utf8)) : contentBlobID ?? ""
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
