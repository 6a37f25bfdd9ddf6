import Logging
import MantaStore
import MantaTransfer
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// One run of `ModelPuller.pull` after the revision is resolved: fetches what the store lacks and returns
/// the manifest entries. Hashing and disk writes run on `threadPool`; only network I/O runs in tasks.
final class PullSession: Sendable {
    struct Outcome: Sendable {
        var files: [Manifest.File]
        /// New chunks whose folders must be synced before a manifest names them.
        var written: Set<ChunkID>
        var journals: [ResumeJournal]
        var bytesDownloaded: UInt64
        var warnings: [String]
    }

    let store: Store
    /// Open for the whole pull (see `Store.WriteSession`).
    let writing: Store.WriteSession
    let client: HubClient
    let snapshot: HubSnapshot
    let concurrency: Int
    let threadPool: NIOThreadPool
    let logger: Logger
    private let progress: @Sendable (PullProgress) -> Void
    private let completed = Atomic<UInt64>(0)
    private let downloaded = Atomic<UInt64>(0)

    init(
        store: Store, writing: Store.WriteSession, client: HubClient, snapshot: HubSnapshot, concurrency: Int, threadPool: NIOThreadPool,
        logger: Logger,
        progress: @escaping @Sendable (PullProgress) -> Void
    ) {
        self.store = store
        self.writing = writing
        self.client = client
        self.snapshot = snapshot
        self.concurrency = concurrency
        self.threadPool = threadPool
        self.logger = logger
        self.progress = progress
    }

    /// Files that `known` (a manifest of the same commit) describes get their missing chunks by id; the
    /// others are downloaded and chunked. Fails, naming the file, if a file does not match the hub's SHA-256.
    func run(known: Manifest?) async throws -> Outcome {
        var knownEntries: [Manifest.File] = []
        var fresh: [HubFile] = []
        for file in snapshot.files {
            if let known, let entry = ModelPuller.entry(in: known, for: file) { knownEntries.append(entry) } else { fresh.append(file) }
        }
        var jobs: [PullFileJob] = []
        do {
            try await fetchMissingChunks(of: knownEntries)
            jobs = try await plan(fresh)
            try await download(jobs)
        } catch  where ModelPuller.isDiskFull(error) {
            throw await discardAfterDiskFull(error, written: Set(jobs.flatMap(\.written)))
        }

        var files = knownEntries
        var written = Set<ChunkID>()
        var failures: [any Error] = []
        for job in jobs {
            do {
                files.append(try await threadPool.runIfActive { [store, writing] in try job.finish(store: store, writing: writing) })
                written.formUnion(job.written)
            } catch {
                logger.error("file failed its check; its new chunks were dropped", metadata: ["file": "\(job.file.path)", "error": "\(error)"])
                failures.append(error)
            }
        }
        if failures.count == 1 { throw failures[0] }
        if failures.count > 1 { throw PullError.filesFailed(repo: "\(snapshot.repo)", reasons: failures.map { "\($0)" }) }
        let warnings = jobs.compactMap { job in job.plan.warning.map { "\(job.file.path): \($0)" } }
        return Outcome(
            files: files, written: written, journals: jobs.map(\.journal),
            bytesDownloaded: downloaded.load(ordering: .relaxed), warnings: warnings
        )
    }

    private var totalBytes: UInt64 { UInt64(snapshot.totalSize) }

    /// After the disk filled up: see `ModelPuller.discardAfterDiskFull`.
    func discardAfterDiskFull(_ cause: any Error, written: Set<ChunkID>) async -> PullError {
        await ModelPuller.discardAfterDiskFull(
            cause, written: written, of: snapshot, in: store, writing: writing, threadPool: threadPool, logger: logger)
    }

    private func report(completedBytes bytes: UInt64) {
        let done = completed.add(bytes, ordering: .relaxed).newValue
        progress(PullProgress(totalBytes: totalBytes, completedBytes: done))
    }

    // MARK: Files with known chunk ids

    private func fetchMissingChunks(of entries: [Manifest.File]) async throws {
        let missing = try await threadPool.runIfActive { [store] in entries.flatMap { ChunkRequest.missing(from: $0, in: store) } }
        let missingBytes = missing.reduce(0) { $0 + $1.length }
        report(completedBytes: entries.reduce(0) { $0 + $1.size } - missingBytes)
        guard !missing.isEmpty else { return }
        let fetcher = HubChunkFetcher(client: client, concurrency: concurrency, threadPool: threadPool, logger: logger)
        let source = Manifest.Source(kind: HubSource.kind, repo: "\(snapshot.repo)", revision: snapshot.revision, commit: snapshot.commit)
        try await fetcher.fetch(missing, source: source, into: store, priority: .preheat) { [self] bytes in
            downloaded.add(bytes, ordering: .relaxed)
            report(completedBytes: bytes)
        }
    }

    // MARK: Files seen for the first time

    /// Chunk layouts from the files' headers (read with ranged requests), and resume state from their journals.
    private func plan(_ files: [HubFile]) async throws -> [PullFileJob] {
        let slots = FetchSlots(limit: concurrency)
        return try await withThrowingTaskGroup(of: PullFileJob.self) { group in
            for file in files {
                group.addTask { try await slots.withSlot(.preheat) { try await self.plan(file) } }
            }
            var jobs: [PullFileJob] = []
            for try await job in group { jobs.append(job) }
            return jobs.sorted { $0.file.path < $1.file.path }
        }
    }

    private func plan(_ file: HubFile) async throws -> PullFileJob {
        let location = HubFileLocation(snapshot: snapshot, file: file)
        let (plan, prefix) = try await client.chunkLayout(of: file, at: location, parameters: store.configuration.chunking)
        downloaded.add(UInt64(prefix.count), ordering: .relaxed)
        if let warning = plan.warning {
            logger.warning("falling back to fixed-size chunks", metadata: ["file": "\(file.path)", "reason": "\(warning)"])
        }
        let job = try await threadPool.runIfActive { [store, snapshot, prefix] in
            let job = PullFileJob(
                file: file, location: location, plan: plan, header: prefix,
                journal: try ResumeJournal(store: store, repo: snapshot.repo, commit: snapshot.commit, file: file.path), store: store
            )
            // The header read already holds the first chunks' bytes.
            for index in job.pendingIndices where plan.spans[index].end <= UInt64(prefix.count) {
                let span = plan.spans[index]
                try prefix.withUnsafeBytes {
                    try job.store(index, bytes: UnsafeRawBufferPointer(rebasing: $0[Int(span.offset)..<Int(span.end)]), into: store)
                }
            }
            return job
        }
        let pending = Set(job.pendingIndices)
        report(completedBytes: plan.spans.indices.filter { !pending.contains($0) }.reduce(0) { $0 + plan.spans[$1].length })
        return job
    }

    /// Downloads every pending chunk: ranges of consecutive chunks, `concurrency` at a time.
    private func download(_ jobs: [PullFileJob]) async throws {
        let queue = SegmentQueue(segments: segments(of: jobs))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<min(concurrency, queue.count) {
                group.addTask { [self] in
                    let capacity = Int(store.configuration.chunkSize)
                    let buffers = (ReceiveBuffer(capacity: capacity), ReceiveBuffer(capacity: capacity))
                    while let segment = queue.next() {
                        try await fetch(segment, buffers: buffers)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    private func fetch(_ segment: Segment, buffers: (ReceiveBuffer, ReceiveBuffer)) async throws {
        let job = segment.job
        try await client.streamSpans(job.location, spans: segment.indices.map { job.plan.spans[$0] }, buffers: buffers) { [self] position, buffer in
            downloaded.add(UInt64(buffer.count), ordering: .relaxed)
            try await threadPool.runIfActive { [store] in try job.store(segment.indices[position], bytes: buffer.bytes, into: store) }
            report(completedBytes: UInt64(buffer.count))
        }
    }

    /// Consecutive pending chunks of one file, grouped so that every stream has work until the end.
    private func segments(of jobs: [PullFileJob]) -> [Segment] {
        let pending = jobs.map { job in (job, job.pendingIndices) }
        let remaining = pending.reduce(UInt64(0)) { total, entry in total + entry.1.reduce(0) { $0 + entry.0.plan.spans[$1].length } }
        let target = PullSegments.target(remaining: remaining, chunkSize: store.configuration.chunkSize, streams: concurrency)
        return pending.flatMap { job, indices in
            PullSegments.runs(of: indices, target: target) { job.plan.spans[$0].length }.map { Segment(job: job, indices: $0) }
        }
    }
}

/// Consecutive chunks of one file, fetched with one ranged request.
struct Segment: Sendable {
    var job: PullFileJob
    var indices: [Int]
}

/// Hands out segments to the streams, in order.
final class SegmentQueue: Sendable {
    private let segments: [Segment]
    private let cursor = Atomic<Int>(0)

    init(segments: [Segment]) { self.segments = segments }

    var count: Int { segments.count }

    func next() -> Segment? {
        let index = cursor.add(1, ordering: .relaxed).oldValue
        return index < segments.count ? segments[index] : nil
    }
}
