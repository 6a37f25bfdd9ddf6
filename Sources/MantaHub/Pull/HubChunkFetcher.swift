import Logging
import MantaStore
import MantaTransfer
import NIOPosix
import Synchronization

/// Fetches chunks of a known manifest from the hub: each run of adjacent chunks of a file is one ranged
/// request on the file's resolve URL at the manifest's commit; every chunk is checked against its id before
/// it enters the store. Reads waiting for a slot go before preheats.
public struct HubChunkFetcher: ChunkFetcher {
    public static let defaultConcurrency = 8
    /// Adjacent chunks are fetched together up to this many bytes per request.
    public static let maximumRequestBytes: UInt64 = 32 << 20

    public let client: HubClient
    private let slots: FetchSlots
    private let threadPool: NIOThreadPool
    private let logger: Logger

    /// Hashing and storing run on `threadPool`, never on the caller's task.
    public init(
        client: HubClient,
        concurrency: Int = HubChunkFetcher.defaultConcurrency,
        threadPool: NIOThreadPool = .singleton,
        logger: Logger = Logger(label: "manta.hub.fetch")
    ) {
        self.client = client
        slots = FetchSlots(limit: concurrency)
        self.threadPool = threadPool
        self.logger = logger
    }

    public func fetch(
        _ requests: [ChunkRequest],
        source: Manifest.Source,
        into store: Store,
        priority: FetchPriority,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async throws {
        guard source.kind == HubSource.kind else { throw PullError.unsupportedSource(kind: source.kind, repo: source.repo) }
        let repo = try HubRepoID(source.repo)
        let outcomes = await withTaskGroup(of: RunOutcome.self) { group in
            for run in Self.runs(of: requests) {
                group.addTask {
                    await (try? slots.withSlot(priority) { await fetchRun(run, repo: repo, commit: source.commit, into: store, progress: progress) })
                        ?? RunOutcome(stored: [], lost: run.count, error: CancellationError())
                }
            }
            var outcomes: [RunOutcome] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        let stored = outcomes.flatMap(\.stored)
        try await threadPool.runIfActive { try store.syncChunkFolders(for: stored) }
        let failures = outcomes.filter { $0.error != nil }
        guard let first = failures.first?.error else { return }
        let lost = failures.reduce(0) { $0 + $1.lost }
        if lost == 1 || first is CancellationError { throw first }
        throw PullError.chunksUnavailable(repo: source.repo, missing: lost, reason: "\(first)")
    }

    private struct RunOutcome: Sendable {
        var stored: [ChunkID]
        var lost: Int
        var error: (any Error)?
    }

    /// One request's worth of chunks: checked and stored as each one's bytes are in.
    private func fetchRun(
        _ run: [ChunkRequest],
        repo: HubRepoID,
        commit: String,
        into store: Store,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async -> RunOutcome {
        let stored = StoredChunks()
        do {
            let location = try HubFileLocation(repo: repo, revision: commit, path: run[0].path)
            let capacity = Int(run.map(\.length).max() ?? 0)
            let buffers = (ReceiveBuffer(capacity: capacity), ReceiveBuffer(capacity: capacity))
            let spans = run.map { ChunkSpan(offset: $0.offset, length: $0.length) }
            try await client.streamSpans(location, spans: spans, buffers: buffers) { [threadPool] index, buffer in
                let request = run[index]
                try await threadPool.runIfActive {
                    let actual = SHA256Hasher.hash(buffer.bytes)
                    guard actual == request.id else {
                        throw PullError.chunkMismatch(
                            repo: "\(repo)", path: request.path, offset: request.offset, expected: request.id, actual: actual)
                    }
                    try store.put(request.id, bytes: buffer.bytes)
                }
                stored.add(request.id)
                progress(request.length)
            }
            return RunOutcome(stored: stored.ids, lost: 0, error: nil)
        } catch {
            let lost = run.count - stored.ids.count
            logger.warning("chunks not fetched", metadata: ["repo": "\(repo)", "path": "\(run[0].path)", "count": "\(lost)", "error": "\(error)"])
            return RunOutcome(stored: stored.ids, lost: lost, error: error)
        }
    }

    /// Distinct requests grouped into runs of adjacent chunks of one file, each at most `maximumRequestBytes`
    /// (a single larger chunk is a run of its own).
    static func runs(of requests: [ChunkRequest]) -> [[ChunkRequest]] {
        var seen = Set<ChunkID>()
        let sorted = requests.filter { seen.insert($0.id).inserted }.sorted { ($0.path, $0.offset) < ($1.path, $1.offset) }
        var runs: [[ChunkRequest]] = []
        var current: [ChunkRequest] = []
        var bytes: UInt64 = 0
        for request in sorted {
            if let last = current.last,
                last.path != request.path || last.offset + last.length != request.offset || bytes + request.length > maximumRequestBytes
            {
                runs.append(current)
                current = []
                bytes = 0
            }
            current.append(request)
            bytes += request.length
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }
}

/// The chunks of one run stored so far.
private final class StoredChunks: Sendable {
    private let stored = Mutex<[ChunkID]>([])

    func add(_ id: ChunkID) { stored.withLock { $0.append(id) } }

    var ids: [ChunkID] { stored.withLock { $0 } }
}
