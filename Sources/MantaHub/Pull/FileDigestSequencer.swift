import MantaStore
import Synchronization

/// Computes a file's SHA-256 while its chunks are stored in any order: whoever stores a chunk while the
/// chunk at the next offset to hash is present hashes from there on (the chunk in hand from memory, the
/// others read back from the store), until it meets a gap. Blocking: call it on a thread, not an async task.
public final class FileDigestSequencer: Sendable {
    private struct Progress {
        /// Chunks stored but not hashed yet, by offset.
        var waiting: [UInt64: Manifest.Chunk] = [:]
        var hashed: [Manifest.Chunk] = []
        var next: UInt64 = 0
        var hashing = false
    }

    public let path: String
    public let size: UInt64
    private let progress: Mutex<Progress>
    private let pairing: HashPairing
    private let hasher: RoleGuardedHasher

    /// `stored`: chunks already in the store. `pairing`: where its hashes meet other threads' (`HashPairing`).
    public init(path: String, size: UInt64, stored: [Manifest.Chunk] = [], pairing: HashPairing = .sharedPools) {
        self.path = path
        self.size = size
        self.pairing = pairing
        hasher = RoleGuardedHasher(pairing: pairing)
        progress = Mutex(Progress(waiting: Dictionary(stored.map { ($0.offset, $0) }, uniquingKeysWith: { first, _ in first })))
    }

    /// Records a chunk as stored, with its bytes while they are at hand, and hashes what follows in order.
    /// A chunk at an offset already recorded is ignored.
    public func stored(_ chunk: Manifest.Chunk, bytes: UnsafeRawBufferPointer? = nil, store: Store) throws {
        let recorded = progress.withLock { progress in
            guard chunk.offset >= progress.next, progress.waiting[chunk.offset] == nil else { return false }
            progress.waiting[chunk.offset] = chunk
            return true
        }
        guard recorded else { return }
        try advance(store: store, inHand: bytes.map { (chunk.offset, $0) })
    }

    /// The chunks hashed so far, in file order.
    public var hashedChunks: [Manifest.Chunk] { progress.withLock { $0.hashed } }

    /// The file's SHA-256, or nil while some chunk is not stored.
    public func finish(store: Store) throws -> Digest? {
        try advance(store: store, inHand: nil)
        let complete = progress.withLock { $0.next == size }
        guard complete else { return nil }
        var finished = SHA256Hasher(pairing: pairing)
        swap(&hasher.state, &finished)
        return finished.finalize()
    }

    /// Stores a chunk received in memory and returns its id: hashes `bytes`, `storing(id)` stores them, and the
    /// file's hash takes them in. Where they are the next bytes the file's hash needs (a stream's chunks arrive in
    /// order), the chunk's hash and the file's come from one paired pass (`SHA256Hasher.advance(over:)`); the file's
    /// hash takes them in only once `storing` returns, so it never holds bytes that were not stored.
    public func store(
        _ span: ChunkSpan, bytes: UnsafeRawBufferPointer, into store: Store, storing: (_ id: Digest) throws -> Void
    ) throws -> Digest {
        let inOrder = progress.withLock { progress in
            guard !progress.hashing, progress.next == span.offset, progress.waiting[span.offset] == nil else { return false }
            progress.hashing = true
            return true
        }
        guard inOrder else {
            let id = SHA256Hasher.hash(bytes, pairing: pairing)
            try storing(id)
            try stored(Manifest.Chunk(offset: span.offset, length: span.length, id: id), bytes: bytes, store: store)
            return id
        }
        let advance = hasher.state.advance(over: bytes)
        do {
            try storing(advance.digest)
        } catch {
            progress.withLock { $0.hashing = false }
            throw error
        }
        hasher.state.apply(advance, bytes: bytes)
        try hash(from: hashed(Manifest.Chunk(offset: span.offset, length: span.length, id: advance.digest)), inHand: nil, store: store)
        return advance.digest
    }

    private func advance(store: Store, inHand: (offset: UInt64, bytes: UnsafeRawBufferPointer)?) throws {
        let first = progress.withLock { progress -> Manifest.Chunk? in
            guard !progress.hashing, let chunk = progress.waiting[progress.next] else { return nil }
            progress.hashing = true
            return chunk
        }
        try hash(from: first, inHand: inHand, store: store)
    }

    /// Holding the hashing role: hashes `chunk` and each stored chunk after it, in order, up to a gap, where the
    /// role is let go.
    private func hash(from chunk: Manifest.Chunk?, inHand: (offset: UInt64, bytes: UnsafeRawBufferPointer)?, store: Store) throws {
        var current = chunk
        while let chunk = current {
            do {
                // The store checked each chunk on entry; the whole-file hash catches anything since.
                if let inHand, inHand.offset == chunk.offset {
                    hasher.state.update(inHand.bytes)
                } else {
                    try store.readChunk(chunk.id, file: path) { hasher.state.update($0) }
                }
            } catch {
                progress.withLock { $0.hashing = false }
                throw error
            }
            current = hashed(chunk)
        }
    }

    /// Records `chunk` as hashed; returns the stored chunk that follows it, or lets the hashing role go at a gap.
    private func hashed(_ chunk: Manifest.Chunk) -> Manifest.Chunk? {
        progress.withLock { progress in
            progress.waiting[chunk.offset] = nil
            progress.hashed.append(chunk)
            progress.next = chunk.end
            if let following = progress.waiting[progress.next], following.length > 0 { return following }
            progress.hashing = false
            return nil
        }
    }
}

/// The running hash of a `FileDigestSequencer`. Unchecked `Sendable`: only the holder of the hashing role
/// (handed out under the sequencer's lock, one at a time) touches it, and `finish` runs after all stores.
private final class RoleGuardedHasher: @unchecked Sendable {
    var state: SHA256Hasher

    init(pairing: HashPairing) {
        state = SHA256Hasher(pairing: pairing)
    }
}
