import MantaPeer
import MantaStore

/// A follower's view of a pull under way on its peers: which chunks they have stored that this node lacks,
/// who holds each, and which are being fetched. Fetch workers ask it for their next chunk.
///
/// Rarest chunks go first (ties broken differently on every node), each from its least busy holder. A chunk
/// only the hub puller holds is taken from it by one follower, its owner (chosen by the chunk id among the
/// followers); the others wait `grace` for a follower to hold it: so the puller uploads each chunk about
/// once, as fast as the hub sends it, and the followers spread it among themselves.
actor FollowBoard {
    /// Where one chunk goes in the revision's files.
    struct Placement: Sendable, Hashable {
        var file: String
        var chunk: Manifest.Chunk
    }

    private struct Wanted {
        var placements: [Placement]
        var holders: Set<PeerAddress>
        let firstSeen: ContinuousClock.Instant
        var inFlight = false
    }

    /// Failures after which a peer is no longer asked for anything in this pull.
    static let strikesOut = 3

    private let node: String
    private let perPeer: Int
    private let grace: Duration
    private var wanted: [ChunkID: Wanted] = [:]
    private var done = Set<Placement>()
    private var busy: [PeerAddress: Int] = [:]
    private var strikes: [PeerAddress: Int] = [:]
    private var puller: PeerAddress?
    private var followers: [String] = []
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var stopped = false
    private(set) var lastProgress = ContinuousClock.now
    private(set) var bytesDone: UInt64 = 0

    init(node: String, perPeer: Int = 4, grace: Duration = .seconds(2)) {
        self.node = node
        self.perPeer = perPeer
        self.grace = grace
    }

    /// Takes in the peers' answers. Placements whose chunk the store already has (`present`) are done at once:
    /// they are returned, to be journaled.
    func update(with answers: [(peer: PeerAddress, status: SwarmStatus)], present: Set<ChunkID>) -> [Placement] {
        // The hub puller stays the puller once it has the revision complete: its last chunks, held by nobody
        // else yet, still go to their owners first rather than to every follower at once.
        (puller, followers) = Self.roles(in: answers, node: node, puller: puller)
        let now = ContinuousClock.now
        var alreadyHere: [Placement] = []
        for (peer, status) in answers where strikes[peer, default: 0] < Self.strikesOut {
            for (file, chunks) in status.chunks {
                for chunk in chunks {
                    let placement = Placement(file: file, chunk: chunk)
                    guard !done.contains(placement) else { continue }
                    if present.contains(chunk.id), wanted[chunk.id]?.inFlight != true {
                        done.insert(placement)
                        bytesDone += chunk.length
                        alreadyHere.append(placement)
                        continue
                    }
                    var entry = wanted[chunk.id] ?? Wanted(placements: [], holders: [], firstSeen: now)
                    if !entry.placements.contains(placement) { entry.placements.append(placement) }
                    entry.holders.insert(peer)
                    wanted[chunk.id] = entry
                }
            }
        }
        wake()
        return alreadyHere
    }

    /// The next chunk to fetch and the peer to fetch it from; nil once stopped.
    func next() async -> (id: ChunkID, length: UInt64, peer: PeerAddress)? {
        while !stopped {
            if let pick = pick() { return pick }
            await withCheckedContinuation { waiters.append($0) }
        }
        return nil
    }

    /// The chunk arrived and is stored: returns its placements (to journal) and the bytes done so far.
    func stored(_ id: ChunkID, from peer: PeerAddress) -> (placements: [Placement], bytesDone: UInt64) {
        busy[peer, default: 1] -= 1
        let placements = (wanted.removeValue(forKey: id)?.placements ?? []).filter { done.insert($0).inserted }
        bytesDone += placements.reduce(0) { $0 + $1.chunk.length }
        lastProgress = .now
        wake()
        return (placements, bytesDone)
    }

    /// The peer failed to give the chunk (or gave wrong bytes): it is not asked for it again, and after
    /// `strikesOut` failures not for anything.
    func failed(_ id: ChunkID, from peer: PeerAddress) {
        busy[peer, default: 1] -= 1
        wanted[id]?.inFlight = false
        wanted[id]?.holders.remove(peer)
        strikes[peer, default: 0] += 1
        if strikes[peer, default: 0] >= Self.strikesOut {
            for id in wanted.keys { wanted[id]?.holders.remove(peer) }
        }
        wake()
    }

    func stop() {
        stopped = true
        wake()
    }

    private func pick() -> (id: ChunkID, length: UInt64, peer: PeerAddress)? {
        let now = ContinuousClock.now
        var best: (rank: (Int, Int), id: ChunkID, length: UInt64, peer: PeerAddress)?
        for (id, entry) in wanted where !entry.inFlight {
            var holders = entry.holders.filter { busy[$0, default: 0] < perPeer }
            let followersHolding = holders.filter { $0 != puller }
            if !followersHolding.isEmpty {
                holders = followersHolding
            } else if followers[Self.ownerIndex(of: id, among: followers.count)] != node, now - entry.firstSeen < grace {
                continue
            }
            guard let peer = holders.min(by: { busy[$0, default: 0] < busy[$1, default: 0] }), let length = entry.placements.first?.chunk.length else {
                continue
            }
            var tiebreak = Hasher()
            tiebreak.combine(id)
            tiebreak.combine(node)
            let rank = (entry.holders.count, tiebreak.finalize())
            if best.map({ rank < $0.rank }) ?? true { best = (rank, id, length, peer) }
        }
        guard let best else { return nil }
        wanted[best.id]?.inFlight = true
        busy[best.peer, default: 0] += 1
        return (best.id, best.length, best.peer)
    }

    private func wake() {
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.resume() }
    }

    /// The peer pulling from the hub (`known`, else the earliest start), and the identities of the followers,
    /// this node included, sorted.
    static func roles(
        in answers: [(peer: PeerAddress, status: SwarmStatus)], node: String, puller known: PeerAddress? = nil
    ) -> (puller: PeerAddress?, followers: [String]) {
        let pulling = answers.compactMap { answer in answer.status.pullingSince.map { (answer.peer, $0, answer.status.node ?? "\(answer.peer)") } }
        let puller = known ?? pulling.min { ($0.1, $0.2) < ($1.1, $1.2) }?.0
        let followers = Set(pulling.filter { $0.0 != puller }.map(\.2) + [node])
        return (puller, followers.sorted())
    }

    static func ownerIndex(of id: ChunkID, among count: Int) -> Int {
        Int(id.bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) } % UInt64(max(1, count)))
    }
}
