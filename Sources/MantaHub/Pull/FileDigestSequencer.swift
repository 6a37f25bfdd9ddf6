import MantaStore
import Synchronization

/// Computes a file's SHA-256 while its chunks are stored in any order: whoever stores a chunk while the
/// next one to hash is present hashes from there on (the chunk in hand from memory, the others read back
/// from the store), until it meets a chunk not stored yet. Blocking: call it on a thread, not an async task.
final class FileDigestSequencer: Sendable {
    private struct Progress {
        var ids: [ChunkID?]
        var next = 0
        var hashing = false
    }

    let path: String
    private let progress: Mutex<Progress>
    private let hasher = RoleGuardedHasher()

    /// `stored` holds the ids of chunks already in the store (by index).
    init(path: String, chunkCount: Int, stored: [Int: ChunkID]) {
        self.path = path
        var ids = [ChunkID?](repeating: nil, count: chunkCount)
        for (index, id) in stored { ids[index] = id }
        progress = Mutex(Progress(ids: ids))
    }

    /// Records chunk `index` as stored, with its bytes while they are at hand, and hashes what follows in order.
    func stored(_ index: Int, id: ChunkID, bytes: UnsafeRawBufferPointer, store: Store) throws {
        progress.withLock { $0.ids[index] = id }
        try advance(store: store, inHand: (index, bytes))
    }

    /// The file's SHA-256, or nil while some chunk is not stored.
    func finish(store: Store) throws -> Digest? {
        try advance(store: store, inHand: nil)
        let complete = progress.withLock { $0.next == $0.ids.count }
        guard complete else { return nil }
        var finished = SHA256Hasher()
        swap(&hasher.state, &finished)
        return finished.finalize()
    }

    private func advance(store: Store, inHand: (index: Int, bytes: UnsafeRawBufferPointer)?) throws {
        var current = progress.withLock { progress -> (Int, ChunkID)? in
            guard !progress.hashing, progress.next < progress.ids.count, let id = progress.ids[progress.next] else { return nil }
            progress.hashing = true
            return (progress.next, id)
        }
        while let (index, id) = current {
            do {
                // The store checked each chunk on entry; the whole-file hash catches anything since.
                if let inHand, inHand.index == index {
                    hasher.state.update(inHand.bytes)
                } else {
                    hasher.state.update(try store.read(id, file: path, verify: false))
                }
            } catch {
                progress.withLock { $0.hashing = false }
                throw error
            }
            current = progress.withLock { progress in
                progress.next += 1
                if progress.next < progress.ids.count, let id = progress.ids[progress.next] { return (progress.next, id) }
                progress.hashing = false
                return nil
            }
        }
    }
}

/// The running hash of a `FileDigestSequencer`. Unchecked `Sendable`: only the holder of the hashing role
/// (handed out under the sequencer's lock, one at a time) touches it, and `finish` runs after all stores.
private final class RoleGuardedHasher: @unchecked Sendable {
    var state = SHA256Hasher()
}
