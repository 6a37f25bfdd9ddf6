import MantaPeer
import MantaStore
import MantaWire

/// A follower's view of a pull under way on its peers: which chunks they have stored that this node lacks,
/// who holds each, and which are being fetched. Fetch workers ask it for their next chunk.
///
/// The followers form a line behind the hub puller, in the order they started: each takes its chunks
/// from the one before it (the first from the puller), one at a time and in the order they were stored
/// there. So every node uploads each chunk about once, to one node, at its whole rate, and a chunk reaches
/// the last follower one chunk's transfer per node after the hub sent it; sharing a sender's or a receiver's
/// rate among many chunks in flight would make every hop that many times longer. A chunk the node before
/// has not got `grace` per node ahead in the line after a peer showed it (one of them is slow) is taken
/// from the least busy other holder, rarest first; so is everything when no puller is known.
actor FollowBoard {
    /// Where one chunk goes in the revision's files.
    struct Placement: Sendable, Hashable {
        var file: String
        var chunk: Manifest.Chunk
    }

    private struct Wanted {
        /// A set: a peer may send thousands of placements of one chunk, and each is looked up as it comes.
        var placements: Set<Placement>
        var holders: Set<PeerAddress>
        let firstSeen: ContinuousClock.Instant
        var inFlight = false
    }

    /// Failures after which a peer is no longer asked for anything in this pull.
    static let strikesOut = 3

    private let node: String
    /// When this node started pulling (seconds since 1970, as it tells its peers).
    private let since: Double
    private let perPeer: Int
    private let grace: Duration
    private var wanted: [ChunkID: Wanted] = [:]
    private var done = Set<Placement>()
    private var busy: [PeerAddress: Int] = [:]
    private var strikes: [PeerAddress: Int] = [:]
    private var puller: PeerAddress?
    /// The peer this node takes its chunks from: the follower before it in the line, or the puller.
    private(set) var upstream: PeerAddress?
    /// Nodes between the puller and this one, this one included: a chunk takes about that many transfers to get here.
    private var hops = 1
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var stopped = false
    private(set) var lastProgress = ContinuousClock.now
    private(set) var bytesDone: UInt64 = 0

    init(node: String, since: Double, perPeer: Int = 4, grace: Duration = .seconds(1)) {
        self.node = node
        self.since = since
        self.perPeer = perPeer
        self.grace = grace
    }

    /// Takes in the peers' answers. Placements whose chunk the store already has (`present`) are done at once:
    /// they are returned, to be journaled. Answers from `everyone` place this node in the line again.
    func update(with answers: [(peer: PeerAddress, status: SwarmStatus)], present: Set<ChunkID>, everyone: Bool) -> [Placement] {
        if everyone {
            // The hub puller stays the puller once it has the revision complete: its last chunks, held by nobody
            // else yet, still go down the line rather than to every follower at once.
            let followers: [String]
            (puller, followers) = Self.roles(in: answers, node: node, since: since, puller: puller)
            let alive = answers.filter { strikes[$0.peer, default: 0] < Self.strikesOut }
            (upstream, hops) = Self.upstream(of: node, followers: followers, puller: puller, answers: alive)
            if let upstream, strikes[upstream, default: 0] >= Self.strikesOut { self.upstream = nil }
        }
        let now = ContinuousClock.now
        var alreadyHere: [Placement] = []
        for (peer, status) in answers where strikes[peer, default: 0] < Self.strikesOut {
            for (file, chunks) in status.chunks {
                for chunk in chunks {
                    let placement = Placement(file: file, chunk: chunk)
                    guard !done.contains(placement) else { continue }
                    if present.contains(chunk.id), wanted[chunk.id]?.inFlight != true {
                        done.insert(placement)
                        bytesDone = Self.sum(bytesDone, chunk.length)
                        alreadyHere.append(placement)
                        continue
                    }
                    var entry = wanted[chunk.id] ?? Wanted(placements: [], holders: [], firstSeen: now)
                    entry.placements.insert(placement)
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

    /// The chunk's bytes are in from `peer`, which may be asked for the next while they are stored.
    func received(from peer: PeerAddress) {
        busy[peer, default: 1] -= 1
        wake()
    }

    /// The chunk is stored: returns its placements (to journal) and the bytes done so far.
    func stored(_ id: ChunkID) -> (placements: [Placement], bytesDone: UInt64) {
        let placements = Array((wanted.removeValue(forKey: id)?.placements ?? []).filter { done.insert($0).inserted })
        bytesDone = placements.reduce(bytesDone) { Self.sum($0, $1.chunk.length) }
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
            if upstream == peer { upstream = nil }
        }
        wake()
    }

    /// Lengths come from peers (checked, but placements may overlap): the count saturates rather than traps.
    private static func sum(_ total: UInt64, _ length: UInt64) -> UInt64 {
        let (result, overflow) = total.addingReportingOverflow(length)
        return overflow ? .max : result
    }

    func stop() {
        stopped = true
        wake()
    }

    private func pick() -> (id: ChunkID, length: UInt64, peer: PeerAddress)? {
        let now = ContinuousClock.now
        let upstreamFree = upstream.map { busy[$0, default: 0] < Self.upstreamInFlight } ?? false
        // Down the line first, oldest first; then what the line is late with, rarest first.
        var best: (rank: (Int, Int, ContinuousClock.Instant, Int), id: ChunkID, length: UInt64, peer: PeerAddress)?
        for (id, entry) in wanted where !entry.inFlight {
            guard let length = entry.placements.first?.chunk.length else { continue }
            let lane: (Int, Int)
            let peer: PeerAddress
            if let upstream, entry.holders.contains(upstream) {
                guard upstreamFree else { continue }
                (lane, peer) = ((0, 0), upstream)
            } else {
                if upstream != nil, now - entry.firstSeen < grace * hops { continue }
                var holders = entry.holders.filter { busy[$0, default: 0] < perPeer }
                let followersHolding = holders.filter { $0 != puller }
                if !followersHolding.isEmpty { holders = followersHolding }
                guard let holder = holders.min(by: { busy[$0, default: 0] < busy[$1, default: 0] }) else { continue }
                (lane, peer) = ((1, entry.holders.count), holder)
            }
            var tiebreak = Hasher()
            tiebreak.combine(id)
            tiebreak.combine(node)
            let rank = (lane.0, lane.1, entry.firstSeen, tiebreak.finalize())
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
    /// this node (which started at `since`) included, in the order they started (then of their identities): a
    /// node that joins late goes to the end of the line instead of cutting in front of nodes that hold more.
    static func roles(
        in answers: [(peer: PeerAddress, status: SwarmStatus)], node: String, since: Double, puller known: PeerAddress? = nil
    ) -> (puller: PeerAddress?, followers: [String]) {
        let pulling = answers.compactMap { answer in answer.status.pullingSince.map { (answer.peer, $0, answer.status.node ?? "\(answer.peer)") } }
        let puller = known ?? pulling.min { ($0.1, $0.2) < ($1.1, $1.2) }?.0
        var starts = [node: since]
        for (peer, started, identity) in pulling where peer != puller { starts[identity] = started }
        return (puller, starts.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key))
    }

    /// Chunks taken at once from the node before in the line: one, so that each goes at the whole rate.
    static let upstreamInFlight = 1

    /// The node `node` takes its chunks from: the follower before it among `followers` (sorted) that
    /// answered, or the puller for the first; and how many nodes from the puller on it is.
    static func upstream(
        of node: String, followers: [String], puller: PeerAddress?, answers: [(peer: PeerAddress, status: SwarmStatus)]
    ) -> (peer: PeerAddress?, hops: Int) {
        let addresses = Dictionary(
            answers.compactMap { answer in answer.status.node.map { ($0, answer.peer) } }, uniquingKeysWith: { first, _ in first })
        let ahead = followers[..<(followers.firstIndex(of: node) ?? 0)].compactMap { addresses[$0] }
        return (ahead.last ?? puller, ahead.count + 1)
    }
}
