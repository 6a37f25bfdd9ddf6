import Logging
import MantaHub
import MantaPeer
import MantaStore
import MantaTransfer
import MantaWire
import NIOPosix
import Synchronization

/// Reads the spans of lazily registered models (`manta add`, `preheat: false`) from peers first, so that a model
/// some node holds is not fetched from the hub again. A peer counts only for a file that its complete manifest
/// lists with the size and SHA-256 of this node's registration, which came from the hub: the hub is the
/// authority, never the peer. Each chunk is checked against its id as it arrives, and the lazy source checks the
/// whole file against the hub's SHA-256 as always. What no peer gives goes to `fallback` (the hub).
final class PeerFirstSpanFetcher: SpanFetcher {
    /// A registered file and the peers holding it complete, as their manifest's entry.
    struct HeldFile: Sendable {
        let entry: Manifest.File
        let peers: [PeerAddress]
    }

    let store: Store
    let peerClient: PeerClient
    let discovery: any PeerDiscovery
    let fallback: any SpanFetcher
    let logger: Logger
    /// Paces the failed-peer pause and the holders' lifetime.
    let clock: AnyClock
    /// Who holds what of each `repo@commit`, asked once per `holdersLifetime` however many spans are read meanwhile.
    private let holders = Mutex<[String: (lookup: Task<[String: HeldFile], Never>, at: AnyClock.Instant)]>([:])
    /// Spreads chunk requests over the peers holding a file.
    private let turn = Atomic<Int>(0)
    /// Peers that recently failed to give a chunk, and when: a node gone away costs one request timeout, not one per chunk.
    private let failedPeers = Mutex<[PeerAddress: AnyClock.Instant]>([:])
    static let failedPeerPause: Duration = .seconds(30)

    /// Long enough that reading a model asks the peers a few times at most, short enough that a peer that just
    /// finished a pull (or went away) is noticed soon.
    static let holdersLifetime: Duration = .seconds(5)
    /// A span is taken from peers only when it spans at most this many of their chunks; layouts that cut it finer
    /// (another chunk size, or a hostile manifest) would cost a request per sliver.
    static let maximumChunksPerSpan = 4
    /// Manifests of a revision fetched per lookup: peers with other chunk sizes have other manifests.
    static let maximumManifests = 4

    init(
        store: Store, peerClient: PeerClient, discovery: any PeerDiscovery, fallback: any SpanFetcher, clock: AnyClock, logger: Logger
    ) {
        self.store = store
        self.clock = clock
        self.peerClient = peerClient
        self.discovery = discovery
        self.fallback = fallback
        self.logger = logger
    }

    /// The lazy source's fetcher: peers first where the agent has any (a discovery, or `--peers`), the hub alone otherwise.
    static func lazyFetcher(
        hub: any SpanFetcher, configuration: AgentConfiguration, store: Store, peerClient: PeerClient, discovery: any PeerDiscovery, logger: Logger
    ) -> any SpanFetcher {
        guard configuration.discovery != nil || !configuration.peers.isEmpty else { return hub }
        return PeerFirstSpanFetcher(
            store: store, peerClient: peerClient, discovery: discovery, fallback: hub, clock: configuration.clock, logger: logger)
    }

    func fetch(
        _ spans: [ChunkSpan],
        of path: String,
        from source: Manifest.Source,
        priority: FetchPriority,
        each: @escaping @Sendable (Int, [UInt8]) async throws -> Void
    ) async throws {
        guard let held = await heldFiles(of: source)[path] else {
            return try await fallback.fetch(spans, of: path, from: source, priority: priority, each: each)
        }
        // Spans no peer gave go to the hub in runs of consecutive spans, each run one ranged request, in order.
        var hubRun: [(index: Int, span: ChunkSpan)] = []
        for (index, span) in spans.enumerated() {
            if let bytes = await fromPeers(span, of: held, path: path, priority: priority) {
                try await fetchFromHub(hubRun, of: path, from: source, priority: priority, each: each)
                hubRun = []
                try await each(index, bytes)
            } else {
                hubRun.append((index, span))
            }
        }
        try await fetchFromHub(hubRun, of: path, from: source, priority: priority, each: each)
    }

    private func fetchFromHub(
        _ run: [(index: Int, span: ChunkSpan)], of path: String, from source: Manifest.Source, priority: FetchPriority,
        each: @escaping @Sendable (Int, [UInt8]) async throws -> Void
    ) async throws {
        guard !run.isEmpty else { return }
        let indices = run.map(\.index)
        try await fallback.fetch(run.map(\.span), of: path, from: source, priority: priority) { position, bytes in
            try await each(indices[position], bytes)
        }
    }

    /// The span's bytes cut from the peers' chunks covering it, or nil when the span does not lie within the file,
    /// is cut too fine, or a chunk could be had from no peer.
    private func fromPeers(_ span: ChunkSpan, of held: HeldFile, path: String, priority: FetchPriority) async -> [UInt8]? {
        guard span.length > 0, span.length <= UInt64(ChunkEncoding.maximumChunkSize), span.offset <= held.entry.size,
            span.length <= held.entry.size - span.offset,
            let first = held.entry.chunkIndex(containing: span.offset), let last = held.entry.chunkIndex(containing: span.end - 1),
            last - first < Self.maximumChunksPerSpan
        else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity(Int(span.length))
        for chunk in held.entry.chunks[first...last] {
            guard let chunkBytes = await self.chunk(chunk, from: held.peers, path: path, priority: priority) else { return nil }
            let start = max(span.offset, chunk.offset) - chunk.offset
            let end = min(span.end, chunk.end) - chunk.offset
            bytes += chunkBytes[Int(start)..<Int(end)]
        }
        return bytes
    }

    /// One chunk from the first of the peers (taken in turn) that gives it, checked against its id by the client.
    private func chunk(_ chunk: Manifest.Chunk, from peers: [PeerAddress], path: String, priority: FetchPriority) async -> [UInt8]? {
        let peers = reachable(peers)
        let start = turn.add(1, ordering: .relaxed).oldValue
        for step in peers.indices {
            let peer = peers[(start &+ step) % peers.count]
            do {
                return try await peerClient.chunk(chunk.id, length: chunk.length, from: peer, priority: priority)
            } catch {
                failedPeers.withLock { $0[peer] = clock.now }
                logger.notice(
                    "a peer could not give a chunk of a lazily read file; it is fetched elsewhere",
                    metadata: [
                        "peer": "\(peer)", "file": "\(path)", "offset": "\(chunk.offset)", "error": "\(error)",
                    ])
            }
        }
        return nil
    }

    /// `peers` less those that failed within `failedPeerPause`.
    private func reachable(_ peers: [PeerAddress]) -> [PeerAddress] {
        let now = clock.now
        return failedPeers.withLock { failed in
            failed = failed.filter { $0.value.duration(to: now) < Self.failedPeerPause }
            return peers.filter { failed[$0] == nil }
        }
    }

    /// The registered files of `source` that peers hold complete, by path.
    private func heldFiles(of source: Manifest.Source) async -> [String: HeldFile] {
        let key = "\(source.repo)@\(source.commit)"
        let now = clock.now
        let lookup = holders.withLock { holders in
            if let cached = holders[key], cached.at.duration(to: now) < Self.holdersLifetime { return cached.lookup }
            holders = holders.filter { $0.value.at.duration(to: now) < Self.holdersLifetime }
            let lookup = Task { await self.findHeldFiles(of: source) }
            holders[key] = (lookup, now)
            return lookup
        }
        return await lookup.value
    }

    /// Asks every peer (as a swarm pull does) which holds the revision complete, fetches their manifests (each
    /// checked against its digest) and keeps each file whose entry matches this node's registration of it.
    private func findHeldFiles(of source: Manifest.Source) async -> [String: HeldFile] {
        guard source.kind == HubSource.kind else { return [:] }
        let peers = reachable(await discovery.peers())
        guard !peers.isEmpty else { return [:] }
        let files: [Registration.File]
        do {
            files = try await NIOThreadPool.singleton.runIfActive { [store] in try Self.registeredFiles(of: source, in: store) }
        } catch {
            logger.warning("could not read the registrations to look for peers; reading from the hub", metadata: ["error": "\(error)"])
            return [:]
        }
        guard !files.isEmpty else { return [:] }
        let query = SwarmQuery(repo: source.repo, commit: source.commit, chunkSize: store.configuration.chunkSize, files: files.map(\.path))
        let sizes = Dictionary(files.map { ($0.path, $0.size) }, uniquingKeysWith: { first, _ in first })
        var holdersByManifest: [Digest: [PeerAddress]] = [:]
        for (peer, digest) in await completeManifests(query, sizes: sizes, from: peers) { holdersByManifest[digest, default: []].append(peer) }
        var held: [String: HeldFile] = [:]
        for (digest, holders) in holdersByManifest.prefix(Self.maximumManifests) {
            guard let manifest = await manifest(digest, from: holders) else { continue }
            for file in files where held[file.path] == nil {
                guard let entry = manifest.file(at: file.path), entry.sha256 == file.sha256, entry.size == file.size else { continue }
                held[file.path] = HeldFile(entry: entry, peers: holders)
            }
        }
        logger.debug(
            "peers holding a lazily read model", metadata: ["model": "\(query.repo)@\(query.commit)", "files": "\(held.count)/\(files.count)"])
        return held
    }

    /// The peers that answer with a complete manifest of the revision, and its digest.
    private func completeManifests(
        _ query: SwarmQuery, sizes: [String: UInt64], from peers: [PeerAddress]
    ) async -> [(peer: PeerAddress, digest: Digest)] {
        await withTaskGroup(of: (PeerAddress, Digest?).self) { group in
            for peer in peers {
                group.addTask { [peerClient, logger] in
                    do {
                        return (peer, try await peerClient.swarm(query, fileSizes: sizes, from: peer).manifest)
                    } catch {
                        logger.debug("no usable swarm answer from a peer", metadata: ["peer": "\(peer)", "error": "\(error)"])
                        return (peer, nil)
                    }
                }
            }
            var holders: [(peer: PeerAddress, digest: Digest)] = []
            for await (peer, digest) in group {
                if let digest { holders.append((peer, digest)) }
            }
            return holders
        }
    }

    private func manifest(_ digest: Digest, from holders: [PeerAddress]) async -> Manifest? {
        for peer in holders {
            do {
                return try await peerClient.manifest(digest, from: peer)
            } catch {
                logger.notice("a peer could not give its manifest", metadata: ["peer": "\(peer)", "manifest": "\(digest)", "error": "\(error)"])
            }
        }
        return nil
    }

    /// Every file registered from `source` (the first registration's entry where two name the same path). Blocking.
    static func registeredFiles(of source: Manifest.Source, in store: Store) throws -> [Registration.File] {
        var files: [String: Registration.File] = [:]
        for (_, digest) in try store.registrations() {
            guard let registration = try? store.registration(digest), registration.source.repo == source.repo,
                registration.source.commit == source.commit
            else { continue }
            for file in registration.files where files[file.path] == nil { files[file.path] = file }
        }
        return files.values.sorted { $0.path < $1.path }
    }
}
