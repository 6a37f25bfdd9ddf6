import MantaStore

/// Where one chunk's bytes live in the source repository: the file and the byte range.
public struct ChunkRequest: Hashable, Sendable {
    public var id: ChunkID
    public var path: String
    public var offset: UInt64
    public var length: UInt64

    public init(id: ChunkID, path: String, offset: UInt64, length: UInt64) {
        self.id = id
        self.path = path
        self.offset = offset
        self.length = length
    }

    /// The requests for every chunk of `file` that `store` lacks.
    public static func missing(from file: Manifest.File, in store: Store) -> [ChunkRequest] {
        file.chunks.filter { !store.contains($0.id) }.map { ChunkRequest(id: $0.id, path: file.path, offset: $0.offset, length: $0.length) }
    }
}

/// Reads blocked in the mount jump ahead of background work.
public enum FetchPriority: Sendable {
    case read
    case preheat
}

/// Gets chunks whose ids are known (from a manifest) from somewhere else: the hub, a peer.
public protocol ChunkFetcher: Sendable {
    /// Fetches each chunk, verifies it against its id, and puts it in `store`. Throws (after doing what it can) if some cannot be had.
    func fetch(
        _ requests: [ChunkRequest],
        source: Manifest.Source,
        into store: Store,
        priority: FetchPriority,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async throws
}
