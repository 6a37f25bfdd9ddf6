import Logging
import MantaStore
import NIOPosix

/// What `LazyRegistrar.add` did.
public struct LazyRegistrationSummary: Sendable {
    public var reference: RepoReference
    public var commit: String
    /// The registration, while some file is not fetched yet.
    public var registration: Digest?
    /// The manifest, when the store has (or now has) the model complete.
    public var manifest: Digest?
    public var files: Int
    public var logicalSize: UInt64
    /// Bytes read from the hub: headers, and small files that the hub gives no SHA-256 for.
    public var bytesDownloaded: UInt64
    /// Files whose header was malformed and that were cut into fixed blocks instead.
    public var warnings: [String]
}

/// Registers a hub model in the store from metadata alone (`manta add`): resolves the revision, reads each
/// weights file's header with ranged requests to compute its chunk layout, and records the layout with the
/// hub's SHA-256 of every file. Small non-LFS files (configs, tokenizers), which the hub gives no SHA-256 for,
/// are read whole so that they can be checked later like the rest. A mount with a lazy source then shows the
/// model at once and fetches chunks on first read.
public struct LazyRegistrar: Sendable {
    /// Leading bytes read first to find a header's length; more are read when the header is longer.
    public static let initialHeaderRead = 16 << 10

    public let store: Store
    public let client: HubClient
    private let logger: Logger

    public init(store: Store, client: HubClient, logger: Logger = Logger(label: "manta.add")) {
        self.store = store
        self.client = client
        self.logger = logger
    }

    /// Registers `reference` (only `filename`, when given) as `namespace/name@revision`.
    public func add(_ reference: HubModelReference, filename: String? = nil) async throws -> LazyRegistrationSummary {
        let storeReference = try ModelPuller.storeReference(for: reference)
        let snapshot = try await client.snapshot(of: reference, filename: filename)
        let puller = ModelPuller(store: store, client: client, logger: logger)
        if let existing = try await NIOThreadPool.singleton.runIfActive({ try puller.existingManifest(storeReference, snapshot: snapshot) }),
            existing.complete
        {
            logger.info("already complete", metadata: ["reference": "\(storeReference)", "commit": "\(snapshot.commit)"])
            return LazyRegistrationSummary(
                reference: storeReference, commit: snapshot.commit, registration: nil, manifest: existing.digest,
                files: existing.manifest.files.count, logicalSize: existing.manifest.logicalSize, bytesDownloaded: 0, warnings: []
            )
        }
        var described: [DescribedFile] = []
        for file in snapshot.files {
            described.append(try await describe(file, of: snapshot))
        }
        let registration = Registration(
            reference: storeReference,
            source: Manifest.Source(
                kind: HubSource.kind, repo: "\(snapshot.repo)", revision: reference.revision, commit: snapshot.commit,
                endpoint: client.configuration.endpoint
            ),
            chunkSize: store.configuration.chunkSize,
            files: described.map(\.file)
        )
        let (digest, manifest) = try await NIOThreadPool.singleton.runIfActive { [store, described] in
            try Self.record(registration, described: described, in: store)
        }
        logger.info("registered", metadata: ["reference": "\(storeReference)", "commit": "\(snapshot.commit)", "registration": "\(digest)"])
        return LazyRegistrationSummary(
            reference: storeReference, commit: snapshot.commit, registration: manifest == nil ? digest : nil, manifest: manifest,
            files: registration.files.count, logicalSize: registration.logicalSize,
            bytesDownloaded: described.reduce(0) { $0 + UInt64($1.knownBytes.count) }, warnings: described.compactMap(\.warning)
        )
    }

    /// A file's registration entry, and the leading bytes of it that were read (all of it for a non-LFS file).
    struct DescribedFile: Sendable {
        var file: Registration.File
        var knownBytes: [UInt8]
        var warning: String?
    }

    private func describe(_ file: HubFile, of snapshot: HubSnapshot) async throws -> DescribedFile {
        let location = HubFileLocation(snapshot: snapshot, file: file)
        let parameters = store.configuration.chunking
        let plan: ChunkPlan
        let known: [UInt8]
        let sha256: Digest
        if let lfs = file.sha256 {
            (plan, known) = try await client.chunkLayout(of: file, at: location, parameters: parameters, initialRead: Self.initialHeaderRead)
            sha256 = lfs
        } else {
            known = file.size > 0 ? Array(try await client.fetch(location, range: 0..<file.size).readableBytesView) : []
            let blobID = GitBlobHasher.blobID(of: known)
            guard blobID == file.blobID else {
                throw HubError.blobMismatch(repo: snapshot.repo, path: file.path, expected: file.blobID, actual: blobID)
            }
            guard case .plan(let whole) = ChunkPlanner.plan(path: file.path, fileSize: UInt64(file.size), prefix: known, parameters: parameters)
            else {
                throw HubError.invalidResponse(
                    repo: snapshot.repo, url: "\(location)", reason: "the header of '\(file.path)' is longer than the file")
            }
            plan = whole
            sha256 = SHA256Hasher.hash(known)
        }
        if let warning = plan.warning {
            logger.warning("falling back to fixed-size chunks", metadata: ["file": "\(file.path)", "reason": "\(warning)"])
        }
        return DescribedFile(
            file: Registration.File(
                path: file.path, size: UInt64(file.size), sha256: sha256, scheme: plan.scheme, spans: plan.spans,
                gitBlobID: file.sha256 == nil ? file.blobID : nil
            ),
            knownBytes: known,
            warning: plan.warning.map { "\(file.path): \($0)" }
        )
    }

    /// Writes the registration, then stores and journals the chunks whose bytes were read, and checks the files
    /// read whole. Returns the registration's digest, and the manifest's if every file is already complete. Blocking.
    private static func record(_ registration: Registration, described: [DescribedFile], in store: Store) throws -> (Digest, Digest?) {
        let writing = store.beginWriting()
        defer { withExtendedLifetime(writing) {} }
        let digest = try store.register(registration)
        let known = Dictionary(described.map { ($0.file.path, $0.knownBytes) }, uniquingKeysWith: { first, _ in first })
        var ids: [[ChunkID]] = []
        for (index, file) in registration.files.enumerated() {
            let bytes = known[file.path] ?? []
            var fileIDs: [ChunkID] = []
            for (spanIndex, span) in file.spans.enumerated() where span.end <= UInt64(bytes.count) {
                let id = try bytes.withUnsafeBytes { buffer in
                    let chunk = UnsafeRawBufferPointer(rebasing: buffer[Int(span.offset)..<Int(span.end)])
                    let id = SHA256Hasher.hash(chunk)
                    try store.put(id, bytes: chunk)
                    return id
                }
                try store.recordPendingChunk(id, file: index, span: spanIndex, of: digest)
                fileIDs.append(id)
            }
            guard fileIDs.count == file.spans.count else { continue }
            let actual = SHA256Hasher.hash(bytes)
            guard actual == file.sha256 else {
                try store.resetPendingFile(index, ids: fileIDs, of: digest, by: writing)
                throw HubError.hashMismatch(repo: try HubRepoID(registration.source.repo), path: file.path, expected: file.sha256, actual: actual)
            }
            try store.recordFileVerified(index, of: digest)
            ids.append(fileIDs)
        }
        guard ids.count == registration.files.count else { return (digest, nil) }
        return (digest, try store.completeRegistration(digest, ids: ids))
    }
}
