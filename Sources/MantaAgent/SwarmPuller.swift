import Foundation
import Logging
import MantaHub
import MantaPeer
import MantaStore
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
    let logger: Logger

    func pull(_ reference: HubModelReference, filename: String?, progress: @escaping @Sendable (PullProgress) -> Void) async throws -> PullSummary {
        let snapshot = try await hub.snapshot(of: reference, filename: filename)
        let puller = ModelPuller(store: store, client: hub, logger: logger)
        if let summary = try await NIOThreadPool.singleton.runIfActive({ try puller.alreadyPulled(reference, snapshot: snapshot) }) {
            progress(PullProgress(totalBytes: UInt64(snapshot.totalSize), completedBytes: UInt64(snapshot.totalSize)))
            return summary
        }
        let repo = "\(snapshot.repo)"
        let started = board.begin(repo: repo, commit: snapshot.commit)
        defer { board.end(repo: repo, commit: snapshot.commit) }
        let query = SwarmQuery(repo: repo, commit: snapshot.commit, chunkSize: store.configuration.chunkSize, files: snapshot.files.map(\.path))
        var following = Following(snapshot: snapshot, node: board.node)
        var lastGain = ContinuousClock.now
        while true {
            let peers = await discovery.peers()
            let answers = await ask(peers, query)
            let holders = answers.filter { $0.status.manifest != nil }
            if let digest = holders.first?.status.manifest {
                do {
                    return try await finish(
                        digest, holders: holders.map(\.peer), peers: peers, snapshot: snapshot, reference: reference, filename: filename,
                        puller: puller, progress: progress
                    )
                } catch {
                    logger.warning("could not take the revision from peers; pulling it from the hub", metadata: ["repo": "\(repo)", "error": "\(error)"])
                    break
                }
            }
            guard answers.contains(where: { ($0.status.pullingSince ?? .infinity) < started }) else { break }
            if try await following.advance(with: answers, swarm: self, progress: progress) {
                lastGain = .now
            } else if ContinuousClock.now - lastGain > timing.stallTimeout {
                logger.notice("the peers pulling this revision stalled; taking the rest from the hub", metadata: ["repo": "\(repo)"])
                break
            } else {
                try await Task.sleep(for: timing.pollInterval)
            }
        }
        return try await puller.pull(reference, snapshot: snapshot, filename: filename, progress: progress)
    }

    /// Every peer's answer; a peer that does not answer is left out.
    private func ask(_ peers: [PeerAddress], _ query: SwarmQuery) async -> [(peer: PeerAddress, status: SwarmStatus)] {
        await withTaskGroup(of: (PeerAddress, SwarmStatus?).self) { group in
            for peer in peers {
                group.addTask { (peer, try? await peerClient.swarm(query, from: peer)) }
            }
            var answers: [(peer: PeerAddress, status: SwarmStatus)] = []
            for await (peer, status) in group {
                if let status { answers.append((peer, status)) }
            }
            return answers
        }
    }

    /// Takes a complete revision from peers: its manifest, checked file by file against the hub's list
    /// (path, size, LFS SHA-256), then every missing chunk from the peers (the hub for what none has), then
    /// each file's whole SHA-256 over the stored chunks before the manifest is written.
    private func finish(
        _ digest: Digest, holders: [PeerAddress], peers: [PeerAddress], snapshot: HubSnapshot, reference: HubModelReference, filename: String?,
        puller: ModelPuller, progress: @escaping @Sendable (PullProgress) -> Void
    ) async throws -> PullSummary {
        let manifest = try await firstManifest(digest, from: holders)
        let files = try snapshot.files.map { file in
            guard let entry = ModelPuller.entry(in: manifest, for: file) else {
                throw AgentError.peerManifestMismatch(repo: "\(snapshot.repo)", commit: snapshot.commit, file: file.path)
            }
            return entry
        }
        let requests = try await NIOThreadPool.singleton.runIfActive { [store] in files.flatMap { ChunkRequest.missing(from: $0, in: store) } }
        let total = UInt64(snapshot.totalSize)
        let done = ByteCounter(total - requests.reduce(0) { $0 + $1.length })
        progress(PullProgress(totalBytes: total, completedBytes: done.value))
        let fetcher = PeerChunkFetcher(peers: peers, client: peerClient, fallback: HubChunkFetcher(client: hub, logger: logger), logger: logger)
        let source = Manifest.Source(kind: HubSource.kind, repo: "\(snapshot.repo)", revision: reference.revision, commit: snapshot.commit)
        try await fetcher.fetch(requests, source: source, into: store, priority: .preheat) { bytes in
            progress(PullProgress(totalBytes: total, completedBytes: done.add(bytes)))
        }
        let written = Set(requests.map(\.id))
        return try await NIOThreadPool.singleton.runIfActive { [store] in
            for file in files { try Self.checkWholeFile(file, in: store, dropping: written) }
            let (digest, manifest) = try puller.record(files, of: snapshot, as: reference, partial: filename != nil, written: written)
            for file in files { try? ResumeJournal(store: store, repo: snapshot.repo, commit: snapshot.commit, file: file.path).remove() }
            return PullSummary(
                reference: try ModelPuller.storeReference(for: reference), digest: digest, manifest: manifest, upToDate: false,
                bytesDownloaded: requests.reduce(0) { $0 + $1.length }, chunksWritten: written.count, warnings: []
            )
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
    /// the hub) gives; otherwise the chunks this pull wrote for it are dropped. Blocking.
    static func checkWholeFile(_ file: Manifest.File, in store: Store, dropping written: Set<ChunkID>) throws {
        var hasher = SHA256Hasher()
        for chunk in file.chunks {
            let bytes = try store.read(chunk.id, file: file.path, verify: false)
            bytes.withUnsafeBytes { hasher.update($0) }
        }
        let actual = hasher.finalize()
        guard actual == file.sha256 else {
            _ = try store.discardUnreferenced(file.chunks.map(\.id).filter(written.contains))
            throw AgentError.fileHashMismatch(path: file.path, expected: "\(file.sha256)", actual: "\(actual)")
        }
    }
}

/// A follower's state: which stored chunks it has journaled, and since when it has seen each chunk offered.
///
/// A chunk that only the node pulling from the hub has is taken from it by one follower, its owner (chosen
/// by the chunk id among the followers), and the others take it from the owner: so the puller uploads
/// each chunk about once, as fast as the hub sends it, and the followers spread it among themselves. A
/// chunk no other follower has after `ownerGrace` is taken from the puller anyway.
struct Following {
    static let ownerGrace: Duration = .seconds(2)

    let snapshot: HubSnapshot
    /// This node's identity among the followers.
    let node: String
    private var journaled = Set<String>()
    private var journaledBytes: UInt64 = 0
    private var firstOffered: [ChunkID: ContinuousClock.Instant] = [:]

    init(snapshot: HubSnapshot, node: String) {
        self.snapshot = snapshot
        self.node = node
    }

    /// Fetches the chunks the peers have stored of the revision and this node lacks, and journals every
    /// chunk of theirs this node now holds. Returns whether anything new was journaled.
    mutating func advance(
        with answers: [(peer: PeerAddress, status: SwarmStatus)], swarm: SwarmPuller, progress: @escaping @Sendable (PullProgress) -> Void
    ) async throws -> Bool {
        var offered: [String: (file: String, chunk: Manifest.Chunk)] = [:]
        for (_, status) in answers {
            for (file, chunks) in status.chunks where snapshot.file(at: file) != nil {
                for chunk in chunks where !journaled.contains(Self.key(file, chunk)) { offered[Self.key(file, chunk)] = (file, chunk) }
            }
        }
        guard !offered.isEmpty else { return false }
        let now = ContinuousClock.now
        for (_, offer) in offered where firstOffered[offer.chunk.id] == nil { firstOffered[offer.chunk.id] = now }
        let store = swarm.store
        let offers = offered
        let missing = try await NIOThreadPool.singleton.runIfActive {
            var seen = Set<ChunkID>()
            return offers.values.filter { !store.contains($0.chunk.id) && seen.insert($0.chunk.id).inserted }
                .map { ChunkRequest(id: $0.chunk.id, path: $0.file, offset: $0.chunk.offset, length: $0.chunk.length) }
        }
        let (puller, followers) = Self.roles(in: answers, node: node)
        let (mine, others) = missing.reduce(into: ([ChunkRequest](), [ChunkRequest]())) { split, request in
            let owned = followers[Self.ownerIndex(of: request.id, among: followers.count)] == node
            let waitedLongEnough = now - (firstOffered[request.id] ?? now) >= Self.ownerGrace
            if owned || waitedLongEnough { split.0.append(request) } else { split.1.append(request) }
        }
        let everyone = answers.map(\.peer)
        async let fromAnyone: Void = fetch(mine, from: everyone, swarm: swarm)
        async let fromFollowers: Void = fetch(others, from: everyone.filter { $0 != puller }, swarm: swarm)
        _ = await (fromAnyone, fromFollowers)

        let fetched = Set(missing.map(\.id))
        let snapshot = snapshot
        let newlyJournaled = try await NIOThreadPool.singleton.runIfActive { () -> [String: UInt64] in
            var journals: [String: ResumeJournal] = [:]
            var lengths: [String: UInt64] = [:]
            for (key, (file, chunk)) in offers where store.contains(chunk.id) {
                let journal = try journals[file] ?? ResumeJournal(store: store, repo: snapshot.repo, commit: snapshot.commit, file: file)
                journals[file] = journal
                try journal.append(.init(span: ChunkSpan(offset: chunk.offset, length: chunk.length), id: chunk.id, new: fetched.contains(chunk.id)))
                lengths[key] = chunk.length
            }
            return lengths
        }
        guard !newlyJournaled.isEmpty else { return false }
        journaled.formUnion(newlyJournaled.keys)
        journaledBytes += newlyJournaled.values.reduce(0, +)
        let total = UInt64(snapshot.totalSize)
        progress(PullProgress(totalBytes: total, completedBytes: min(total, journaledBytes)))
        return true
    }

    /// The peer pulling from the hub (the earliest start), and the identities of the followers, this node included, sorted.
    static func roles(in answers: [(peer: PeerAddress, status: SwarmStatus)], node: String) -> (puller: PeerAddress?, followers: [String]) {
        let pulling = answers.compactMap { answer in answer.status.pullingSince.map { (answer.peer, $0, answer.status.node ?? "\(answer.peer)") } }
        let puller = pulling.min { ($0.1, $0.2) < ($1.1, $1.2) }
        let followers = pulling.filter { $0.0 != puller?.0 }.map(\.2) + [node]
        return (puller?.0, followers.sorted())
    }

    static func ownerIndex(of id: ChunkID, among count: Int) -> Int {
        Int(id.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % UInt64(max(1, count)))
    }

    /// Fetches what it can of `requests` from `peers`; chunks no peer has yet are left for a later round.
    private func fetch(_ requests: [ChunkRequest], from peers: [PeerAddress], swarm: SwarmPuller) async {
        guard !requests.isEmpty, !peers.isEmpty else { return }
        let fetcher = PeerChunkFetcher(peers: peers, client: swarm.peerClient, fallback: nil, logger: swarm.logger)
        let source = Manifest.Source(kind: HubSource.kind, repo: "\(snapshot.repo)", revision: snapshot.revision, commit: snapshot.commit)
        do {
            try await fetcher.fetch(requests, source: source, into: swarm.store, priority: .preheat) { _ in }
        } catch {
            swarm.logger.debug("some chunks are on no peer yet", metadata: ["error": "\(error)"])
        }
    }

    private static func key(_ file: String, _ chunk: Manifest.Chunk) -> String { "\(file)\u{0}\(chunk.offset)" }
}

/// Bytes done, added to from any thread.
final class ByteCounter: Sendable {
    private let count: Atomic<UInt64>

    init(_ initial: UInt64) {
        count = Atomic(initial)
    }

    var value: UInt64 { count.load(ordering: .relaxed) }

    func add(_ bytes: UInt64) -> UInt64 { count.add(bytes, ordering: .relaxed).newValue }
}
