import Foundation
import Logging
import MantaHub
import MantaPeer
import MantaStore
import MantaTransfer
import MantaWire
import NIOPosix
import Synchronization

/// Pulls a model revision as one node of a swarm, so that the hub sends each byte about once for all of
/// them. A peer holding the revision complete gives its manifest (checked against the hub's file list)
/// and the chunks. A peer already pulling it is followed: its chunks are taken as soon as they are stored
/// there, and journaled here so that a hub pull, if it comes to that, resumes after them. Nobody has it,
/// or the pull followed stalls: this node pulls from the hub itself, and the others follow it.
struct SwarmPuller: Sendable {
    let store: Store
    let hub: HubClient
    let peerClient: PeerClient
    let discovery: any PeerDiscovery
    let board: SwarmBoard
    let timing: AgentConfiguration.SwarmTiming
    let topology: SwarmTopology
    let clock: AnyClock
    let logger: Logger

    /// Pulls the files of `snapshot`, the hub's metadata of `reference` (and `filename`), which the caller read
    /// once: for the quota's admission, and for this pull.
    func pull(
        _ reference: HubModelReference, snapshot: HubSnapshot, filename: String?, progress: @escaping @Sendable (PullProgress) -> Void
    ) async throws -> PullSummary {
        _ = try ModelPuller.storeReference(for: reference)
        let puller = ModelPuller(store: store, client: hub, logger: logger)
        if let summary = try await NIOThreadPool.singleton.runIfActive({ try puller.alreadyPulled(reference, snapshot: snapshot) }) {
            progress(PullProgress(totalBytes: UInt64(snapshot.totalSize), completedBytes: UInt64(snapshot.totalSize)))
            return summary
        }
        let writing = store.beginWriting()
        defer { withExtendedLifetime(writing) {} }
        let repo = "\(snapshot.repo)"
        let started = board.begin(repo: repo, commit: snapshot.commit)
        defer { board.end(repo: repo, commit: snapshot.commit) }
        let query = SwarmQuery(repo: repo, commit: snapshot.commit, chunkSize: store.configuration.chunkSize, files: snapshot.files.map(\.path))
        // Each file's SHA-256 is computed as its chunks arrive, so that checking the files at the end costs little; on
        // the pull's own threads, where a hash may wait for another to pair with.
        let digests = FileDigests(snapshot.files.map { FileDigestSequencer(path: $0.path, size: UInt64($0.size), pairing: .ownPools) })
        let storedWhileFollowing = StoredChunks()
        return try await ModelPuller.withThreadPool(threads: Self.blockingThreads) { pool in
            let outcome: Outcome
            do {
                outcome = try await follow(
                    query, startedAt: started, snapshot: snapshot, digests: digests, stored: storedWhileFollowing, pool: pool, progress: progress)
            } catch  where ModelPuller.isDiskFull(error) {
                throw await discardAfterDiskFull(error, written: storedWhileFollowing.ids, of: snapshot, writing: writing)
            }
            if case .complete(let files, let peers) = outcome {
                do {
                    return Self.counting(
                        storedWhileFollowing,
                        in: try await finish(
                            files, peers: peers, snapshot: snapshot, reference: reference, filename: filename, puller: puller, digests: digests,
                            writing: writing, pool: pool, progress: progress
                        ))
                } catch  where ModelPuller.isDiskFull(error) {
                    // `finish` removed what the pull stored; the hub would need the same space.
                    throw error
                } catch {
                    logger.warning(
                        "could not take the revision from peers; pulling it from the hub", metadata: ["repo": "\(repo)", "error": "\(error)"])
                }
            }
            return Self.counting(
                storedWhileFollowing,
                in: try await puller.pull(reference, snapshot: snapshot, filename: filename, writing: writing, progress: progress))
        }
    }

    /// Threads of a pull's own pool for its blocking work: hashing (the chunks from peers, and their files' hashes,
    /// paired across threads: `HashPairing.ownPools`) and writing chunks, which waits for the disk.
    static let blockingThreads = 8

    /// Adds the chunks taken from followed peers to a summary's bytes, as bytes from peers.
    private static func counting(_ storedWhileFollowing: StoredChunks, in summary: PullSummary) -> PullSummary {
        var summary = summary
        summary.bytesFromPeers += storedWhileFollowing.bytes
        summary.bytesDownloaded += storedWhileFollowing.bytes
        return summary
    }

    enum Outcome {
        /// Peers hold the revision complete, as these files of their manifest (already checked against the hub's list).
        case complete(files: [Manifest.File], peers: [PeerAddress])
        /// Nobody started pulling it before this node, or the pull followed stalled: take the rest from the hub.
        case hub
    }

    /// Asks the peers every `pollInterval` what they have of the revision; while one that started before this
    /// node pulls it, fetch workers follow it chunk by chunk (see `FollowBoard`), journaling each chunk in the
    /// resume journal a hub pull would use, so one resumes after them if it comes to that.
    private func follow(
        _ query: SwarmQuery, startedAt started: Double, snapshot: HubSnapshot, digests: FileDigests, stored: StoredChunks, pool: NIOThreadPool,
        progress: @escaping @Sendable (PullProgress) -> Void
    ) async throws -> Outcome {
        let followBoard = FollowBoard(node: board.node, since: started, topology: topology, clock: clock)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            do {
                return try await poll(
                    query, startedAt: started, snapshot: snapshot, digests: digests, board: followBoard, stored: stored, pool: pool,
                    workers: &group, progress: progress
                )
            } catch {
                // The fetch workers wait on the board, and the group waits for them before it rethrows.
                await followBoard.stop()
                throw error
            }
        }
    }

    private func poll(
        _ query: SwarmQuery, startedAt started: Double, snapshot: HubSnapshot, digests: FileDigests, board followBoard: FollowBoard,
        stored: StoredChunks, pool: NIOThreadPool,
        workers group: inout ThrowingTaskGroup<Void, any Error>, progress: @escaping @Sendable (PullProgress) -> Void
    ) async throws -> Outcome {
        var working = false
        var complete: (digest: Digest, files: [Manifest.File])?
        var seen: [PeerAddress: [String: Int]] = [:]
        var round = 0
        var roundsWithoutAnEarlierPuller = 0
        let silent = SilentPeers(probeInterval: timing.pollInterval * Self.roundsBetweenProbes, clock: clock) { [peerClient] peer in
            (try? await peerClient.swarm(query, from: peer)) != nil
        }
        while true {
            // Every peer once a round; in between only the node this one takes its chunks from, so that a
            // chunk moves down the line soon after it is stored there.
            defer { round += 1 }
            if round % Self.upstreamPollsPerRound != 0 {
                let upstreams = await followBoard.upstreamPeers
                if !upstreams.isEmpty {
                    let answers = await ask(upstreams, query, of: snapshot, seen: &seen, silent: silent)
                    try await take(
                        answers, present: try await presentChunks(of: answers, pool: pool), everyone: false, board: followBoard,
                        snapshot: snapshot, digests: digests, pool: pool)
                }
                try await clock.sleep(for: timing.pollInterval / Self.upstreamPollsPerRound)
                continue
            }
            let peers = await discovery.peers()
            var answers = await ask(peers, query, of: snapshot, seen: &seen, silent: silent)
            let anEarlierPuller = answers.contains { ($0.status.pullingSince ?? .infinity) < started }
            roundsWithoutAnEarlierPuller = anEarlierPuller ? 0 : roundsWithoutAnEarlierPuller + 1
            let holders = answers.filter { $0.status.manifest != nil }
            if let digest = holders.first?.status.manifest, complete?.digest != digest {
                // Checked against the hub's list now; a manifest that fails sends this node to the hub.
                do {
                    complete = (digest, try Self.entries(of: try await firstManifest(digest, from: holders.map(\.peer)), for: snapshot))
                } catch {
                    logger.warning(
                        "the peers' manifest of the revision is refused; pulling from the hub",
                        metadata: ["repo": "\(query.repo)", "error": "\(error)"])
                    complete = nil
                }
            }
            if let complete, !holders.isEmpty {
                // Peers holding the revision complete hold every chunk of its manifest.
                let chunks = Dictionary(complete.files.map { ($0.path, $0.chunks) }, uniquingKeysWith: { first, _ in first })
                answers += holders.map { ($0.peer, SwarmStatus(node: $0.status.node, chunks: chunks)) }
            }
            let present = try await presentChunks(of: answers, pool: pool)
            let verdict = FollowVerdict(
                holdersAnswered: !holders.isEmpty, manifestAccepted: complete != nil, anEarlierPuller: anEarlierPuller, following: working,
                roundsWithoutAnEarlierPuller: roundsWithoutAnEarlierPuller, stalled: await followBoard.sinceLastProgress > timing.stallTimeout,
                allHere: complete?.files.allSatisfy { $0.chunks.allSatisfy { present.contains($0.id) } } ?? false
            )
            switch verdict {
            case .follow:
                break
            case .wait:
                try await clock.sleep(for: timing.pollInterval / Self.upstreamPollsPerRound)
                continue
            case .hub, .finish:
                if verdict == .hub, holders.isEmpty, anEarlierPuller {
                    logger.notice("the peers pulling this revision stalled; taking the rest from the hub", metadata: ["repo": "\(query.repo)"])
                }
                let outcome: Outcome = if verdict == .finish, let complete { .complete(files: complete.files, peers: peers) } else { .hub }
                logger.debug("following ends", metadata: ["repo": "\(query.repo)", "complete": "\(complete?.digest.description ?? "no")"])
                await followBoard.stop()
                try await group.waitForAll()
                return outcome
            }
            try await take(answers, present: present, everyone: true, board: followBoard, snapshot: snapshot, digests: digests, pool: pool)
            if !working {
                working = true
                for _ in 0..<Self.followWorkers {
                    group.addTask {
                        try await fetchFollowing(followBoard, snapshot: snapshot, digests: digests, stored: stored, pool: pool, progress: progress)
                    }
                }
            }
            try await clock.sleep(for: timing.pollInterval / Self.upstreamPollsPerRound)
        }
    }

    /// Polls of the node before this one in the line per `pollInterval`, which asks every peer once.
    static let upstreamPollsPerRound = 4

    /// Rounds that ask everyone between two probes of a peer that went silent (`SilentPeers`): one, since the probes
    /// hold up no round, and a puller silent for more than `FollowVerdict.missedRoundsBeforeLeaving` rounds sends
    /// its first follower to the hub.
    static let roundsBetweenProbes = 1

    /// Which of the chunks the peers offer are in the store already.
    private func presentChunks(of answers: [(peer: PeerAddress, status: SwarmStatus)], pool: NIOThreadPool) async throws -> Set<ChunkID> {
        let offered = Set(answers.flatMap { $0.status.chunks.values.flatMap { $0.map(\.id) } })
        return try await pool.runIfActive { [store] in offered.filter(store.contains) }
    }

    /// Hands the answers to the board and journals the chunks it finds already here.
    private func take(
        _ answers: [(peer: PeerAddress, status: SwarmStatus)], present: Set<ChunkID>, everyone: Bool, board followBoard: FollowBoard,
        snapshot: HubSnapshot, digests: FileDigests, pool: NIOThreadPool
    ) async throws {
        let alreadyHere = await followBoard.update(with: answers, present: present, everyone: everyone)
        try await record(alreadyHere, bytes: nil, new: false, snapshot: snapshot, digests: digests, pool: pool)
    }

    /// Chunks fetched at once while following, each held in memory until stored.
    static let followWorkers = 16

    private func fetchFollowing(
        _ followBoard: FollowBoard, snapshot: HubSnapshot, digests: FileDigests, stored: StoredChunks, pool: NIOThreadPool,
        progress: @escaping @Sendable (PullProgress) -> Void
    ) async throws {
        let total = UInt64(snapshot.totalSize)
        let buffer = ReceiveBuffer(capacity: 0)
        while let (id, length, peer) = await followBoard.next() {
            logger.debug("asking a peer for a chunk", metadata: ["peer": "\(peer)", "chunk": "\(id)", "bytes": "\(length)"])
            do {
                try await peerClient.uncheckedChunk(id, length: length, from: peer, priority: .preheat, into: buffer)
                // Hashed on the pull's threads, beside the other workers' chunks and the files' hashes.
                let actual = try await pool.runIfActive { SHA256Hasher.hash(buffer.bytes, pairing: .ownPools) }
                try PeerClient.check(actual, of: id, from: peer)
                // Before the write: the peer's slot is free and its transfer time measured without the disk's.
                await followBoard.received(id, from: peer)
                if logger.logLevel <= .debug {
                    let upstreams = await followBoard.upstreamPeers
                    logger.debug("a chunk came from a peer", metadata: ["peer": "\(peer)", "chunk": "\(id)", "upstreams": "\(upstreams)"])
                }
                let new = try await pool.runIfActive { [store] in
                    // Counted before the write: a full disk can fail it after the chunk's file landed.
                    if store.location(of: id) == nil { stored.writing(id) }
                    return try store.put(id, bytes: buffer.bytes, pastPageCache: true) > 0
                }
                if new { stored.insert(id, bytes: buffer.count) }
                let (placements, done, receiveRate) = await followBoard.stored(id)
                board.note(receiveRate, repo: "\(snapshot.repo)", commit: snapshot.commit)
                try await record(placements, bytes: buffer, new: new, snapshot: snapshot, digests: digests, pool: pool)
                progress(PullProgress(totalBytes: total, completedBytes: min(total, done)))
            } catch let error as PeerError {
                logger.notice(
                    "a peer could not give a chunk; it is fetched elsewhere", metadata: ["peer": "\(peer)", "chunk": "\(id)", "error": "\(error)"])
                await followBoard.failed(id, from: peer)
            }
        }
    }

    /// Appends the placements to their files' resume journals and feeds their files' running hashes (with
    /// the chunk's `bytes` when at hand).
    private func record(
        _ placements: [FollowBoard.Placement], bytes: ReceiveBuffer?, new: Bool, snapshot: HubSnapshot, digests: FileDigests, pool: NIOThreadPool
    ) async throws {
        guard !placements.isEmpty else { return }
        try await pool.runIfActive { [store] in
            for (file, entries) in Dictionary(grouping: placements, by: \.file) {
                let journal = try ResumeJournal(store: store, repo: snapshot.repo, commit: snapshot.commit, file: file)
                for entry in entries {
                    try journal.append(.init(span: ChunkSpan(offset: entry.chunk.offset, length: entry.chunk.length), id: entry.chunk.id, new: new))
                    if let bytes {
                        try digests[file]?.stored(entry.chunk, bytes: bytes.bytes, store: store)
                    } else {
                        try digests[file]?.stored(entry.chunk, store: store)
                    }
                }
            }
        }
    }

    /// Every peer's answer, with only the chunk entries not `seen` before (counted per peer and file); a peer
    /// that does not answer, or answers with numbers that cannot be believed (a chunk past its file's size in
    /// `snapshot`, a `pullingSince` that is no time: `SwarmStatus.validated`), is left out.
    private func ask(
        _ peers: [PeerAddress], _ query: SwarmQuery, of snapshot: HubSnapshot, seen: inout [PeerAddress: [String: Int]], silent: SilentPeers
    ) async -> [(peer: PeerAddress, status: SwarmStatus)] {
        let peers = silent.toAsk(peers)
        let sizes = Dictionary(snapshot.files.map { ($0.path, UInt64(clamping: $0.size)) }, uniquingKeysWith: { first, _ in first })
        let queries = peers.map { peer in
            var asked = query
            asked.seen = seen[peer]
            return (peer, asked)
        }
        let answers = await withTaskGroup(of: (PeerAddress, SwarmStatus?).self) { group in
            for (peer, asked) in queries {
                group.addTask {
                    do {
                        return (peer, try await peerClient.swarm(asked, fileSizes: sizes, from: peer))
                    } catch {
                        // A peer that is down is routine while polling; one whose answer was refused is worth a look.
                        let refused = if case .garbage? = error as? PeerError { true } else { false }
                        logger.log(
                            level: refused ? .warning : .debug, "no usable swarm answer from a peer",
                            metadata: ["peer": "\(peer)", "error": "\(error)"])
                        return (peer, nil)
                    }
                }
            }
            var answers: [(peer: PeerAddress, status: SwarmStatus)] = []
            for await (peer, status) in group {
                if let status { answers.append((peer, status)) }
            }
            return answers
        }
        silent.record(asked: peers, answered: Set(answers.map(\.peer)))
        for (peer, status) in answers {
            for (file, chunks) in status.chunks { seen[peer, default: [:]][file, default: 0] += chunks.count }
        }
        return answers
    }

    /// Takes a complete revision from peers: `files` (their manifest's entries, checked against the hub's
    /// list), every missing chunk from the peers (the hub for what none has), then each file's whole SHA-256
    /// over the stored chunks before the manifest is written.
    private func finish(
        _ files: [Manifest.File], peers: [PeerAddress], snapshot: HubSnapshot, reference: HubModelReference, filename: String?,
        puller: ModelPuller, digests: FileDigests, writing: Store.WriteSession, pool: NIOThreadPool,
        progress: @escaping @Sendable (PullProgress) -> Void
    ) async throws -> PullSummary {
        let requests = try await pool.runIfActive { [store] in files.flatMap { ChunkRequest.missing(from: $0, in: store) } }
        let total = UInt64(snapshot.totalSize)
        // The files were checked against the hub's sizes, so what is missing cannot exceed the total; clamped all the same.
        let done = ByteCounter(total - min(total, requests.reduce(0) { $0 + $1.length }))
        progress(PullProgress(totalBytes: total, completedBytes: done.value))
        let fromHub = ByteCounter(0)
        let fallback = CountingChunkFetcher(base: HubChunkFetcher(client: hub, logger: logger), counter: fromHub)
        let fetcher = PeerChunkFetcher(
            peers: peers, client: peerClient, fallback: fallback, intake: Self.intake(feeding: digests, on: pool), logger: logger)
        let source = Manifest.Source(kind: HubSource.kind, repo: "\(snapshot.repo)", revision: reference.revision, commit: snapshot.commit)
        // What was missing and is stored now, this pull stored: it goes again if the disk fills up.
        let written = Set(requests.map(\.id))
        do {
            try await fetcher.fetch(requests, source: source, into: store, priority: .preheat) { bytes in
                progress(PullProgress(totalBytes: total, completedBytes: done.add(bytes)))
            }
            let fetched = requests.reduce(0) { $0 + $1.length }
            var summary = try await record(
                files, snapshot: snapshot, reference: reference, filename: filename, puller: puller, digests: digests, written: written,
                bytesDownloaded: fetched, writing: writing, pool: pool
            )
            summary.bytesFromPeers = fetched - min(fetched, fromHub.value)
            return summary
        } catch  where ModelPuller.isDiskFull(error) {
            throw await discardAfterDiskFull(error, written: written, of: snapshot, writing: writing)
        }
    }

    /// Stores the chunks a complete revision's holders send, each hashed with its file's SHA-256 in one pass where it
    /// comes in its file's order (the fetcher asks for them in that order), else beside another thread's hash.
    static func intake(feeding digests: FileDigests, on pool: NIOThreadPool) -> ChunkIntake {
        ChunkIntake(threadPool: pool) { request, bytes, store, check in
            func storing(_ id: Digest) throws {
                try check(id)
                try store.put(id, bytes: bytes, pastPageCache: true)
            }
            guard let sequencer = digests[request.path] else { return try storing(SHA256Hasher.hash(bytes, pairing: .ownPools)) }
            _ = try sequencer.store(ChunkSpan(offset: request.offset, length: request.length), bytes: bytes, into: store, storing: storing)
        }
    }

    /// Checks each file whole over the stored chunks and records the manifest and the reference.
    private func record(
        _ files: [Manifest.File], snapshot: HubSnapshot, reference: HubModelReference, filename: String?, puller: ModelPuller, digests: FileDigests,
        written: Set<ChunkID>, bytesDownloaded: UInt64, writing: Store.WriteSession, pool: NIOThreadPool
    ) async throws -> PullSummary {
        let checking = Stopwatch(clock)
        defer {
            logger.debug(
                "finished from peers",
                metadata: ["repo": "\(snapshot.repo)", "missing": "\(written.count)", "seconds": "\(checking.elapsed)"])
        }
        return try await pool.runIfActive { [store] in
            for file in files { try Self.checkWholeFile(file, hashedSoFar: digests[file.path], in: store, dropping: written, by: writing) }
            let (digest, manifest) = try puller.record(
                files, of: snapshot, as: reference, partial: filename != nil, written: written, writing: writing)
            for file in files { try? ResumeJournal(store: store, repo: snapshot.repo, commit: snapshot.commit, file: file.path).remove() }
            return PullSummary(
                reference: try ModelPuller.storeReference(for: reference), digest: digest, manifest: manifest, upToDate: false,
                bytesDownloaded: bytesDownloaded, chunksWritten: written.count, warnings: []
            )
        }
    }

    /// After the disk filled up: removes what this pull stored and its journals (see `ModelPuller.discardAfterDiskFull`).
    private func discardAfterDiskFull(
        _ cause: any Error, written: Set<ChunkID>, of snapshot: HubSnapshot, writing: Store.WriteSession
    ) async -> PullError {
        await ModelPuller.discardAfterDiskFull(
            cause, written: written, of: snapshot, in: store, writing: writing, threadPool: .singleton, logger: logger)
    }

    /// The manifest's entry for every file of the snapshot, each checked against the hub's (size, LFS SHA-256).
    static func entries(of manifest: Manifest, for snapshot: HubSnapshot) throws -> [Manifest.File] {
        try snapshot.files.map { file in
            guard let entry = ModelPuller.entry(in: manifest, for: file) else {
                throw AgentError.peerManifestMismatch(repo: "\(snapshot.repo)", commit: snapshot.commit, file: file.path)
            }
            return entry
        }
    }

    private func firstManifest(_ digest: Digest, from holders: [PeerAddress]) async throws -> Manifest {
        var lastError: any Error = AgentError.noPeerManifest(digest: "\(digest)")
        for peer in holders {
            do {
                return try await peerClient.manifest(digest, from: peer)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// The SHA-256 of the file's stored chunks, in order, must be the one the manifest (and, for LFS files,
    /// the hub) gives; otherwise the chunks this pull wrote for it are dropped. The hash computed while
    /// following is finished with the manifest's remaining chunks when it hashed the same chunks; otherwise the
    /// file is hashed afresh. Blocking.
    static func checkWholeFile(
        _ file: Manifest.File, hashedSoFar: FileDigestSequencer?, in store: Store, dropping written: Set<ChunkID>, by writing: Store.WriteSession
    ) throws {
        var actual: Digest?
        if let hashedSoFar, file.chunks.starts(with: hashedSoFar.hashedChunks) {
            for chunk in file.chunks { try hashedSoFar.stored(chunk, store: store) }
            let digest = try hashedSoFar.finish(store: store)
            if hashedSoFar.hashedChunks == file.chunks { actual = digest }
        }
        if actual == nil {
            actual = try FileDigestSequencer(path: file.path, size: file.size, stored: file.chunks).finish(store: store)
        }
        guard let actual, actual == file.sha256 else {
            _ = try store.discardUnreferenced(file.chunks.map(\.id).filter(written.contains), by: writing)
            throw AgentError.fileHashMismatch(path: file.path, expected: "\(file.sha256)", actual: actual.map { "\($0)" } ?? "incomplete")
        }
    }
}

/// The running hash of each file of a revision, by path.
struct FileDigests: Sendable {
    private let sequencers: [String: FileDigestSequencer]

    init(_ sequencers: [FileDigestSequencer]) {
        self.sequencers = Dictionary(sequencers.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
    }

    subscript(path: String) -> FileDigestSequencer? { sequencers[path] }
}

/// Bytes done, added to from any thread.
/// A fetcher that counts the bytes another one stores, to tell the hub's share of a swarm pull.
struct CountingChunkFetcher: ChunkFetcher {
    let base: any ChunkFetcher
    let counter: ByteCounter

    func fetch(
        _ requests: [ChunkRequest], source: Manifest.Source, into store: Store, priority: FetchPriority,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async throws {
        try await base.fetch(requests, source: source, into: store, priority: priority) { [counter] bytes in
            _ = counter.add(bytes)
            progress(bytes)
        }
    }
}

final class ByteCounter: Sendable {
    private let count: Atomic<UInt64>

    init(_ initial: UInt64) {
        count = Atomic(initial)
    }

    var value: UInt64 { count.load(ordering: .relaxed) }

    func add(_ bytes: UInt64) -> UInt64 { count.add(bytes, ordering: .relaxed).newValue }
}

/// The chunks a pull stored while following its peers, journaled or not yet: what a full disk makes it remove.
final class StoredChunks: Sendable {
    private let stored = Mutex<(ids: Set<ChunkID>, bytes: UInt64, writing: Set<ChunkID>)>(([], 0, []))

    func insert(_ id: ChunkID, bytes: Int) {
        stored.withLock { stored in
            if stored.ids.insert(id).inserted { stored.bytes += UInt64(bytes) }
        }
    }

    /// A chunk the store lacked, about to be written.
    func writing(_ id: ChunkID) {
        stored.withLock { _ = $0.writing.insert(id) }
    }

    /// The chunks stored, and those whose write began and may have left a file.
    var ids: Set<ChunkID> { stored.withLock { $0.ids.union($0.writing) } }
    /// What those chunks weigh: the bytes this pull took from the peers it followed.
    var bytes: UInt64 { stored.withLock { $0.bytes } }
}
