import MantaStore
import MantaTransfer
import NIOPosix

/// How a `PeerChunkFetcher` takes in the chunks peers send: on which threads, and through what. The bytes come
/// unchecked; `take` hashes them, hands the digest to `check` (which throws unless it is the chunk's id) before
/// it stores anything, and stores them. A pull hashes each chunk together with its file's SHA-256 where the chunk
/// is the file's next bytes, on a thread pool of its own where hashes may wait for a partner (`HashPairing`).
public struct ChunkIntake: Sendable {
    /// Runs `take`, which blocks (hashing, disk).
    public let threadPool: NIOThreadPool
    public let take:
        @Sendable (_ request: ChunkRequest, _ bytes: UnsafeRawBufferPointer, _ store: Store, _ check: (Digest) throws -> Void) throws -> Void

    public init(
        threadPool: NIOThreadPool,
        take:
            @escaping @Sendable (_ request: ChunkRequest, _ bytes: UnsafeRawBufferPointer, _ store: Store, _ check: (Digest) throws -> Void) throws ->
            Void
    ) {
        self.threadPool = threadPool
        self.take = take
    }

    /// Each chunk hashed alone and stored through the page cache, on the shared pool.
    public static let standard = ChunkIntake(threadPool: .singleton) { request, bytes, store, check in
        try check(SHA256Hasher.hash(bytes))
        try store.put(request.id, bytes: bytes)
    }
}
