import Logging
import MantaStore
import MantaTransfer
import NIOPosix

/// Fetches chunks from peers before anything else: it asks every peer which chunks it has, takes the
/// rarest first (in the order asked among equals), spreads them over the peers holding them with a cap per peer, and
/// drops a peer for the rest of the fetch when it fails or sends bytes that do not hash to the chunk's id.
/// What no peer can give goes to `fallback` (the hub). Every chunk is verified before it enters the store.
public struct PeerChunkFetcher: ChunkFetcher {
    public let peers: [PeerAddress]
    public let client: PeerClient
    public let fallback: (any ChunkFetcher)?
    public let perPeerConcurrency: Int
    /// Chunks in flight at once over all peers: each is held in memory until stored.
    public let maximumInFlight: Int
    /// How the chunks are hashed and stored.
    public let intake: ChunkIntake
    let logger: Logger

    public init(
        peers: [PeerAddress], client: PeerClient, fallback: (any ChunkFetcher)?, perPeerConcurrency: Int = 4, maximumInFlight: Int = 8,
        intake: ChunkIntake = .standard, logger: Logger = Logger(label: "manta.peer.fetch")
    ) {
        self.peers = peers
        self.client = client
        self.fallback = fallback
        self.perPeerConcurrency = max(1, perPeerConcurrency)
        self.maximumInFlight = max(1, maximumInFlight)
        self.intake = intake
        self.logger = logger
    }

    public func fetch(
        _ requests: [ChunkRequest], source: Manifest.Source, into store: Store, priority: FetchPriority,
        progress: @escaping @Sendable (UInt64) -> Void
    ) async throws {
        var seen = Set<ChunkID>()
        let wanted = requests.filter { !store.contains($0.id) && seen.insert($0.id).inserted }
        guard !wanted.isEmpty else { return }
        let plan = FetchPlan(requests: wanted, holders: await holders(of: wanted.map(\.id)), perPeer: perPeerConcurrency)
        let workers = max(1, min(maximumInFlight, peers.count * perPeerConcurrency))
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask {
                    let buffer = ReceiveBuffer(capacity: 0)
                    while let (request, peer) = await plan.next() {
                        do {
                            try await client.uncheckedChunk(request.id, length: request.length, from: peer, priority: priority, into: buffer)
                            try await intake.threadPool.runIfActive {
                                try intake.take(request, buffer.bytes, store) { try PeerClient.check($0, of: request.id, from: peer) }
                            }
                            await plan.finished(peer)
                            progress(request.length)
                        } catch {
                            logger.warning(
                                "dropping a peer for this fetch", metadata: ["peer": "\(peer)", "chunk": "\(request.id)", "error": "\(error)"])
                            await plan.failed(request, peer)
                        }
                    }
                }
            }
        }
        let leftovers = await plan.leftovers
        guard !leftovers.isEmpty else { return }
        guard let fallback else { throw PeerFetchError.noSource(missing: leftovers.count, peersAsked: peers.count) }
        logger.info("fetching what no peer has from the fallback", metadata: ["chunks": "\(leftovers.count)"])
        try await fallback.fetch(leftovers, source: source, into: store, priority: priority, progress: progress)
    }

    /// Which peers have which of `ids`; a peer that does not answer holds nothing. Each peer is asked about
    /// `PeerServer.maximumHaveQuery` ids at a time, one batch after the other.
    func holders(of ids: [ChunkID]) async -> [ChunkID: [PeerAddress]] {
        await withTaskGroup(of: (PeerAddress, [ChunkID]?).self) { group in
            for peer in peers {
                group.addTask {
                    var held: [ChunkID] = []
                    for start in stride(from: 0, to: ids.count, by: PeerServer.maximumHaveQuery) {
                        let batch = Array(ids[start..<min(start + PeerServer.maximumHaveQuery, ids.count)])
                        do {
                            let bitmap = try await client.have(batch, from: peer)
                            held += batch.indices.filter { bitmap[$0] }.map { batch[$0] }
                        } catch {
                            logger.notice("peer did not say what it has; skipping it", metadata: ["peer": "\(peer)", "error": "\(error)"])
                            return (peer, nil)
                        }
                    }
                    return (peer, held)
                }
            }
            var holders: [ChunkID: [PeerAddress]] = [:]
            for await (peer, held) in group {
                for id in held ?? [] { holders[id, default: []].append(peer) }
            }
            return holders
        }
    }
}

public enum PeerFetchError: Error, CustomStringConvertible, Equatable {
    case noSource(missing: Int, peersAsked: Int)

    public var description: String {
        switch self {
        case .noSource(let missing, let peers):
            "\(missing) chunks are on none of the \(peers) peers and there is no hub to fall back on: add peers that have the model, or give a hub endpoint"
        }
    }
}

/// Who fetches which chunk next: rarest chunks first, each from its least busy holder under the per-peer cap.
actor FetchPlan {
    private var queue: [ChunkRequest]
    private let holders: [ChunkID: [PeerAddress]]
    private let perPeer: Int
    private var inFlight: [PeerAddress: Int] = [:]
    private var dropped = Set<PeerAddress>()
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private(set) var leftovers: [ChunkRequest] = []

    init(requests: [ChunkRequest], holders: [ChunkID: [PeerAddress]], perPeer: Int) {
        self.holders = holders
        self.perPeer = perPeer
        // Among equally rare chunks, the order asked: a file's chunks in order, so that its hash can follow them as they come.
        queue = requests.enumerated()
            .sorted { (holders[$0.element.id]?.count ?? 0, $0.offset) < (holders[$1.element.id]?.count ?? 0, $1.offset) }
            .map(\.element)
    }

    /// The next chunk and the peer to get it from; nil when nothing is left for peers.
    func next() async -> (ChunkRequest, PeerAddress)? {
        while true {
            var index = 0
            while index < queue.count {
                let request = queue[index]
                let alive = (holders[request.id] ?? []).filter { !dropped.contains($0) }
                if alive.isEmpty {
                    leftovers.append(queue.remove(at: index))
                    continue
                }
                let free = alive.filter { inFlight[$0, default: 0] < perPeer }
                if let peer = free.min(by: { inFlight[$0, default: 0] < inFlight[$1, default: 0] }) {
                    queue.remove(at: index)
                    inFlight[peer, default: 0] += 1
                    return (request, peer)
                }
                index += 1
            }
            if queue.isEmpty { return nil }
            await withCheckedContinuation { waiters.append($0) }
        }
    }

    func finished(_ peer: PeerAddress) {
        inFlight[peer, default: 1] -= 1
        wakeAll()
    }

    /// The peer is dropped for the rest of the fetch; the chunk goes back to the front of the queue.
    func failed(_ request: ChunkRequest, _ peer: PeerAddress) {
        inFlight[peer, default: 1] -= 1
        dropped.insert(peer)
        queue.insert(request, at: 0)
        wakeAll()
    }

    private func wakeAll() {
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.resume() }
    }
}
