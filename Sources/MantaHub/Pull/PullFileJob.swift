import MantaStore
import Synchronization

/// One file being pulled for the first time: its chunk layout (from its header), which chunks are stored,
/// its resume journal, and its whole-file hash in the making. The blocking methods run on threads.
final class PullFileJob: Sendable {
    let file: HubFile
    let location: HubFileLocation
    let plan: ChunkPlan
    let journal: ResumeJournal
    /// The leading bytes the layout was computed from: they must turn out to be the file's.
    private let header: (length: Int, digest: Digest)?
    private let sequencer: FileDigestSequencer
    private let state: Mutex<State>

    private struct State {
        var ids: [ChunkID?]
        /// Chunks this pull (or the one it resumes) wrote, as opposed to found in the store.
        var written: Set<ChunkID>
    }

    /// Resumes from `journal`: its entries that match the layout and whose chunks are still stored count as done.
    /// Not for a file the hub gives no SHA-256 for: a peer followed before may have journaled its chunks, and only
    /// the hub's bytes are taken for it (they are small; see `HubAnswerLimits.maximumPlainFileSize`).
    init(file: HubFile, location: HubFileLocation, plan: ChunkPlan, header: [UInt8], journal: ResumeJournal, store: Store) {
        self.file = file
        self.location = location
        self.plan = plan
        self.journal = journal
        self.header = header.isEmpty ? nil : (header.count, SHA256Hasher.hash(header))
        let indexByOffset = Dictionary(plan.spans.enumerated().map { ($1.offset, $0) }, uniquingKeysWith: { first, _ in first })
        var ids = [ChunkID?](repeating: nil, count: plan.spans.count)
        var written = Set<ChunkID>()
        for entry in journal.entries() {
            if entry.new { written.insert(entry.id) }
            guard file.sha256 != nil, let index = indexByOffset[entry.span.offset], plan.spans[index] == entry.span, store.contains(entry.id) else {
                continue
            }
            ids[index] = entry.id
        }
        let stored = zip(plan.spans, ids).compactMap { span, id in id.map { Manifest.Chunk(offset: span.offset, length: span.length, id: $0) } }
        // Its hashes run on the pull's own thread pool (`PullSession`), where waiting for a partner holds no one else up.
        sequencer = FileDigestSequencer(path: file.path, size: UInt64(file.size), stored: stored, pairing: .ownPools)
        state = Mutex(State(ids: ids, written: written))
    }

    /// Indices of the chunks still to fetch, in file order.
    var pendingIndices: [Int] { state.withLock { state in state.ids.indices.filter { state.ids[$0] == nil } } }

    var written: Set<ChunkID> { state.withLock { $0.written } }

    /// Hashes and stores chunk `index`, journals it, and feeds the whole-file hash. Blocking.
    func store(_ index: Int, bytes: UnsafeRawBufferPointer, into store: Store) throws {
        let span = plan.spans[index]
        _ = try sequencer.store(span, bytes: bytes, into: store) { id in
            // Known as written before the put: a full disk can fail it after the chunk's file landed, and a pull whose put
            // or journal append fails that way still removes the chunk.
            if store.location(of: id) == nil { state.withLock { _ = $0.written.insert(id) } }
            let new = try store.put(id, bytes: bytes, pastPageCache: true) > 0
            try journal.append(ResumeJournal.Entry(span: span, id: id, new: new))
            state.withLock { $0.ids[index] = id }
        }
    }

    /// Checks the whole file against the hub's SHA-256 (LFS files) or git blob id (the others), and the header the layout came from
    /// against the file's first bytes, and returns the file's manifest entry. On a mismatch the chunks the
    /// pull wrote for it are deleted (unless another manifest uses them, or the store is in use: see
    /// `Store.discardUnreferenced`) and the journal is dropped, so nothing of the bad file is named or resumed. Blocking.
    func finish(store: Store, writing: Store.WriteSession) throws -> Manifest.File {
        let ids = state.withLock { $0.ids }.compactMap { $0 }
        guard ids.count == plan.spans.count, let digest = try sequencer.finish(store: store) else {
            throw PullError.chunksUnavailable(repo: "\(location.repo)", missing: plan.spans.count - ids.count, reason: "'\(file.path)' is incomplete")
        }
        if let expected = file.sha256, digest != expected {
            try discard(from: store, writing: writing)
            throw HubError.hashMismatch(repo: location.repo, path: file.path, expected: expected, actual: digest)
        }
        if let header, try headerDigest(length: header.length, ids: ids, store: store) != header.digest {
            try discard(from: store, writing: writing)
            throw PullError.headerMismatch(repo: "\(location.repo)", path: file.path)
        }
        let chunks = zip(plan.spans, ids).map { Manifest.Chunk(offset: $0.offset, length: $0.length, id: $1) }
        let entry = Manifest.File(
            path: file.path, size: UInt64(file.size), sha256: digest, scheme: plan.scheme, chunks: chunks,
            gitBlobID: file.sha256 == nil ? file.blobID : nil
        )
        if entry.gitBlobID != nil, let actual = try ModelPuller.blobMismatch(of: entry, store: store) {
            try discard(from: store, writing: writing)
            throw HubError.blobMismatch(repo: location.repo, path: file.path, expected: file.blobID, actual: actual)
        }
        return entry
    }

    private func discard(from store: Store, writing: Store.WriteSession) throws {
        try store.discardUnreferenced(written, by: writing)
        journal.remove()
    }

    /// SHA-256 of the first `length` bytes of the stored file.
    private func headerDigest(length: Int, ids: [ChunkID], store: Store) throws -> Digest {
        var hasher = SHA256Hasher()
        var remaining = length
        for (span, id) in zip(plan.spans, ids) where remaining > 0 {
            let bytes = try store.read(id, file: file.path, verify: false)
            let used = min(remaining, Int(span.length))
            bytes.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<used])) }
            remaining -= used
        }
        return hasher.finalize()
    }
}
