import MantaStore

/// One file of a repository at a commit, as the hub describes it.
public struct HubFile: Hashable, Sendable {
    /// Path inside the repository, `/`-separated.
    public let path: String
    public let size: Int64
    /// The git blob id the hub reports (for LFS files, the id of the pointer file).
    public let blobID: String
    /// Present when the file is stored with Git LFS; its SHA-256 is the content's, which makes it checkable.
    public let lfs: LFS?

    public struct LFS: Hashable, Sendable {
        public let sha256: Digest
        public let size: Int64
        public let pointerSize: Int

        public init(sha256: Digest, size: Int64, pointerSize: Int) {
            self.sha256 = sha256
            self.size = size
            self.pointerSize = pointerSize
        }
    }

    public init(path: String, size: Int64, blobID: String, lfs: LFS?) {
        self.path = path
        self.size = size
        self.blobID = blobID
        self.lfs = lfs
    }

    /// The content's SHA-256 when the hub vouches for it (LFS files only: plain git files carry a SHA-1 blob id).
    public var sha256: Digest? { lfs?.sha256 }
}
