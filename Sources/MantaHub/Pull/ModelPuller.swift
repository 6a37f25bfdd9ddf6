import Logging
import MantaStore
import NIOPosix

public struct PullProgress: Sendable {
    public var totalBytes: UInt64
    /// Bytes of the pulled files that are in the store: found there, or fetched since the pull began.
    public var completedBytes: UInt64

    public init(totalBytes: UInt64, completedBytes: UInt64) {
        self.totalBytes = totalBytes
        self.completedBytes = completedBytes
    }
}

public struct PullSummary: Sendable {
    public var reference: RepoReference
    public var digest: Digest
    public var manifest: Manifest
    /// The store already had this commit complete: only the revision was checked.
    public var upToDate: Bool
    /// Body bytes received: from the hub, and in a swarm pull also from peers.
    public var bytesDownloaded: UInt64
    /// The part of `bytesDownloaded` that came from peers (0 for a pull from the hub alone).
    public var bytesFromPeers: UInt64 = 0
    /// Chunks written to the store (the others were already there).
    public var chunksWritten: Int
    /// Files whose header was malformed and that were cut into fixed blocks instead.
    public var warnings: [String]

    public init(
        reference: RepoReference, digest: Digest, manifest: Manifest, upToDate: Bool, bytesDownloaded: UInt64, chunksWritten: Int, warnings: [String]
    ) {
        self.reference = reference
        self.digest = digest
        self.manifest = manifest
        self.upToDate = upToDate
        self.bytesDownloaded = bytesDownloaded
        self.chunksWritten = chunksWritten
        self.warnings = warnings
    }
}

/// Pulls a model revision from a Hugging Face hub into the store: resolves the revision; downloads every
/// file with ranged requests in parallel, cutting it into chunks (layout from the header) that are hashed
/// and stored as they arrive; checks each file's SHA-256 against the hub's LFS oid; then writes the
/// manifest and the (pinned) reference. A pull killed at any point resumes where it stopped, and a pull
/// of a commit the store already has complete only checks the revision.
public struct ModelPuller: Sendable {
    public static let defaultConcurrency = 4

    public let store: Store
    public let client: HubClient
    /// Parallel requests (streams) to the hub.
    public let concurrency: Int
    let logger: Logger

    public init(store: Store, client: HubClient, concurrency: Int = ModelPuller.defaultConcurrency, logger: Logger = Logger(label: "manta.pull")) {
        self.store = store
        self.client = client
        self.concurrency = max(1, concurrency)
        self.logger = logger
    }

    /// Pulls `reference` (only `filename`, when given) and records it as `namespace/name@revision`.
    public func pull(
        _ reference: HubModelReference,
        filename: String? = nil,
        progress: @escaping @Sendable (PullProgress) -> Void = { _ in }
    ) async throws -> PullSummary {
        _ = try Self.storeReference(for: reference)
        let snapshot = try await client.snapshot(of: reference, filename: filename)
        return try await pull(reference, snapshot: snapshot, filename: filename, progress: progress)
    }

    /// Pulls the files of `snapshot`, already resolved from `reference` (and `filename`), within `writing` when
    /// the caller holds a write session for this pull already.
    public func pull(
        _ reference: HubModelReference,
        snapshot: HubSnapshot,
        filename: String? = nil,
        writing: Store.WriteSession? = nil,
        progress: @escaping @Sendable (PullProgress) -> Void = { _ in }
    ) async throws -> PullSummary {
        let storeReference = try Self.storeReference(for: reference)
        let writing = writing ?? store.beginWriting()
        defer { withExtendedLifetime(writing) {} }
        return try await Self.withThreadPool(threads: concurrency + 2) { [self] pool in
            let existing = try await pool.runIfActive { try existingManifest(storeReference, snapshot: snapshot) }
            if let existing, existing.complete {
                let total = UInt64(snapshot.totalSize)
                progress(PullProgress(totalBytes: total, completedBytes: total))
                return upToDate(storeReference, existing, snapshot: snapshot)
            }
            let session = PullSession(
                store: store, writing: writing, client: client, snapshot: snapshot, concurrency: concurrency, threadPool: pool, logger: logger,
                progress: progress)
            let outcome = try await session.run(known: existing?.manifest)
            let (digest, manifest): (Digest, Manifest)
            do {
                (digest, manifest) = try await pool.runIfActive {
                    let recorded = try record(outcome.files, of: snapshot, as: reference, partial: filename != nil, written: outcome.written)
                    for journal in outcome.journals { journal.remove() }
                    return recorded
                }
            } catch  where Self.isDiskFull(error) {
                throw await session.discardAfterDiskFull(error, written: outcome.written)
            }
            return PullSummary(
                reference: storeReference, digest: digest, manifest: manifest, upToDate: false,
                bytesDownloaded: outcome.bytesDownloaded, chunksWritten: outcome.written.count, warnings: outcome.warnings
            )
        }
    }

    /// The summary of a pull that has nothing to do, if the store holds `snapshot` complete under `reference`. Blocking.
    public func alreadyPulled(_ reference: HubModelReference, snapshot: HubSnapshot) throws -> PullSummary? {
        let storeReference = try Self.storeReference(for: reference)
        guard let existing = try existingManifest(storeReference, snapshot: snapshot), existing.complete else { return nil }
        return upToDate(storeReference, existing, snapshot: snapshot)
    }

    private func upToDate(
        _ reference: RepoReference, _ existing: (digest: Digest, manifest: Manifest, complete: Bool), snapshot: HubSnapshot
    ) -> PullSummary {
        logger.info("already pulled", metadata: ["reference": "\(reference)", "commit": "\(snapshot.commit)"])
        return PullSummary(
            reference: reference, digest: existing.digest, manifest: existing.manifest, upToDate: true, bytesDownloaded: 0, chunksWritten: 0,
            warnings: []
        )
    }

    /// Writes the manifest of `files` (every chunk stored and verified) and points the pinned reference of
    /// `reference` at it, after syncing the folders of the `written` chunks. A `partial` pull (one file)
    /// keeps the other files an earlier pull of the same commit recorded. Every file the hub gives no SHA-256 for
    /// must have the hub's git blob id, recorded and over its stored bytes, whoever gave them: else nothing is
    /// recorded, its `written` chunks are dropped (given `writing`) with its resume journal, and a `blobMismatch` is
    /// thrown. Blocking.
    public func record(
        _ files: [Manifest.File], of snapshot: HubSnapshot, as reference: HubModelReference, partial: Bool, written: Set<ChunkID>,
        writing: Store.WriteSession? = nil
    ) throws -> (digest: Digest, manifest: Manifest) {
        let storeReference = try Self.storeReference(for: reference)
        for file in files {
            guard let hubFile = snapshot.file(at: file.path), hubFile.sha256 == nil else { continue }
            let actual = file.gitBlobID == hubFile.blobID ? try Self.blobMismatch(of: file, store: store) : file.gitBlobID ?? "none"
            guard let actual else { continue }
            if let writing { _ = try store.discardUnreferenced(file.chunks.map(\.id).filter(written.contains), by: writing) }
            try? ResumeJournal(store: store, repo: snapshot.repo, commit: snapshot.commit, file: file.path).remove()
            throw HubError.blobMismatch(repo: snapshot.repo, path: file.path, expected: hubFile.blobID, actual: actual)
        }
        let existing = partial ? try existingManifest(storeReference, snapshot: snapshot) : nil
        let kept = (existing?.manifest.files ?? []).filter { file in !files.contains { $0.path == file.path } }
        let manifest = Manifest(
            source: Manifest.Source(
                kind: HubSource.kind, repo: "\(snapshot.repo)", revision: reference.revision, commit: snapshot.commit,
                endpoint: client.configuration.endpoint
            ),
            chunkSize: store.configuration.chunkSize,
            files: files + kept
        )
        try store.syncChunkFolders(for: written)
        let digest = try store.put(manifest)
        try store.setReference(storeReference, to: digest, pinned: true)
        return (digest, manifest)
    }

    /// The store's name for a hub revision: `namespace/name@revision`.
    public static func storeReference(for reference: HubModelReference) throws -> RepoReference {
        do {
            return try RepoReference(organization: reference.repo.namespace, name: reference.repo.name, revision: reference.revision)
        } catch {
            throw PullError.revisionNotStorable(revision: reference.revision, reason: error.description)
        }
    }

    /// The manifest the reference names, if it records the snapshot's commit, and whether the store holds
    /// every chunk of the snapshot's files. Blocking.
    func existingManifest(_ reference: RepoReference, snapshot: HubSnapshot) throws -> (digest: Digest, manifest: Manifest, complete: Bool)? {
        guard let digest = try store.resolve(reference), let manifest = try? store.manifest(digest),
            manifest.source.kind == HubSource.kind, manifest.source.repo == "\(snapshot.repo)", manifest.source.commit == snapshot.commit
        else { return nil }
        let complete = snapshot.files.allSatisfy { file in
            guard let entry = Self.entry(in: manifest, for: file) else { return false }
            return entry.chunks.allSatisfy { store.contains($0.id) }
        }
        return (digest, manifest, complete)
    }

    /// The manifest's entry for `file` if it describes the same content: the same size, and the hub's SHA-256 or,
    /// for a file the hub gives none for, its git blob id (an entry without one, from before they were recorded or
    /// from a peer that does not say, is not taken: the file is fetched from the hub again).
    public static func entry(in manifest: Manifest, for file: HubFile) -> Manifest.File? {
        guard let entry = manifest.file(at: file.path), entry.size == UInt64(file.size) else { return nil }
        if let sha256 = file.sha256 { return entry.sha256 == sha256 ? entry : nil }
        return entry.gitBlobID == file.blobID ? entry : nil
    }

    /// The git blob id of `file`'s stored bytes when it is not the one recorded in `file`, nil when it is. Blocking.
    static func blobMismatch(of file: Manifest.File, store: Store) throws -> String? {
        let actual = try store.gitBlobID(of: file)
        return actual == file.gitBlobID ? nil : actual
    }

    /// Runs `body` with a pool of threads for the blocking work (hashing, disk), shut down afterwards.
    package static func withThreadPool<Result: Sendable>(threads: Int, _ body: (NIOThreadPool) async throws -> Result) async throws -> Result {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        do {
            let result = try await body(pool)
            try await pool.shutdownGracefully()
            return result
        } catch {
            try? await pool.shutdownGracefully()
            throw error
        }
    }
}
