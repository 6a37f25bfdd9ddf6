import MantaStore

/// What a node asks its peers before pulling a model revision: who has it complete, and who is pulling
/// it now (and which chunks they have so far), so that only one node takes it from the hub and the
/// others follow it chunk by chunk.
public struct SwarmQuery: Sendable, Hashable, Codable {
    public var repo: String
    public var commit: String
    /// The chunk size the layouts were computed with: nodes with another size cannot share partial layouts.
    public var chunkSize: UInt64
    public var files: [String]
    /// For each file, how many of the peer's chunk entries the asker has already seen: only later ones are sent.
    public var seen: [String: Int]?

    public init(repo: String, commit: String, chunkSize: UInt64, files: [String], seen: [String: Int]? = nil) {
        self.repo = repo
        self.commit = commit
        self.chunkSize = chunkSize
        self.files = files
        self.seen = seen
    }
}

/// A peer's answer to a `SwarmQuery`.
public struct SwarmStatus: Sendable, Hashable, Codable {
    /// The answering node's identity (random per agent run), so followers can split the work among themselves.
    public var node: String?
    /// A complete manifest of the revision on that peer.
    public var manifest: Digest?
    /// When the peer started pulling the revision (seconds since 1970), if it is pulling it now.
    public var pullingSince: Double?
    /// For each queried file being pulled: the chunks stored so far, in the order they were stored, after the
    /// ones the asker has `seen`.
    public var chunks: [String: [Manifest.Chunk]]
    /// Bytes per second at which the peer has lately stored chunks from its own peers in this pull, once it has
    /// stored a few: followers place a node far slower than the others where it feeds nobody.
    public var receiveRate: Double?

    public init(
        node: String? = nil, manifest: Digest? = nil, pullingSince: Double? = nil, chunks: [String: [Manifest.Chunk]] = [:],
        receiveRate: Double? = nil
    ) {
        self.node = node
        self.manifest = manifest
        self.pullingSince = pullingSince
        self.chunks = chunks
        self.receiveRate = receiveRate
    }

    public static let nothing = SwarmStatus()
}
