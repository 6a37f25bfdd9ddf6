/// The JSON shapes of the Hugging Face API, shared by the client (decoding) and the server (encoding).
public enum HubWire {
    /// `/api/models/{repo}` and `/api/models/{repo}/revision/{rev}`.
    public struct ModelInfo: Codable, Sendable {
        public var _id: String?
        public var id: String
        public var modelId: String?
        public var author: String?
        public var sha: String?
        public var lastModified: String?
        public var createdAt: String?
        public var `private`: Bool?
        public var gated: Bool?
        public var disabled: Bool?
        public var downloads: Int?
        public var likes: Int?
        public var tags: [String]?
        public var siblings: [Sibling]?

        public init(
            _id: String?, id: String, modelId: String?, author: String?, sha: String?, lastModified: String?, createdAt: String?,
            private: Bool?, gated: Bool?, disabled: Bool?, downloads: Int?, likes: Int?, tags: [String]?, siblings: [Sibling]?
        ) {
            self._id = _id
            self.id = id
            self.modelId = modelId
            self.author = author
            self.sha = sha
            self.lastModified = lastModified
            self.createdAt = createdAt
            self.private = `private`
            self.gated = gated
            self.disabled = disabled
            self.downloads = downloads
            self.likes = likes
            self.tags = tags
            self.siblings = siblings
        }
    }

    public struct Sibling: Codable, Sendable {
        public var rfilename: String
        public var size: Int64?
        public var blobId: String?
        public var lfs: SiblingLFS?

        public init(rfilename: String, size: Int64?, blobId: String?, lfs: SiblingLFS?) {
            self.rfilename = rfilename
            self.size = size
            self.blobId = blobId
            self.lfs = lfs
        }
    }

    public struct SiblingLFS: Codable, Sendable {
        public var size: Int64
        public var sha256: String
        public var pointerSize: Int

        public init(size: Int64, sha256: String, pointerSize: Int) {
            self.size = size
            self.sha256 = sha256
            self.pointerSize = pointerSize
        }
    }

    /// One entry of `/api/models/{repo}/tree/{rev}[/{path}]` and of `paths-info`.
    public struct TreeEntry: Codable, Sendable {
        public var type: String
        public var oid: String
        public var size: Int64?
        public var path: String
        public var lfs: TreeLFS?

        public init(type: String, oid: String, size: Int64?, path: String, lfs: TreeLFS?) {
            self.type = type
            self.oid = oid
            self.size = size
            self.path = path
            self.lfs = lfs
        }
    }

    public struct TreeLFS: Codable, Sendable {
        public var oid: String
        public var size: Int64
        public var pointerSize: Int

        public init(oid: String, size: Int64, pointerSize: Int) {
            self.oid = oid
            self.size = size
            self.pointerSize = pointerSize
        }
    }
}
