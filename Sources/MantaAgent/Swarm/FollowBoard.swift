import MantaPeer
import MantaStore
import MantaTransfer
import MantaWire

/// A follower's view of a pull under way on its peers: which chunks they have stored that this node lacks,
/// who holds each, and which are being fetched. Fetch workers ask it for their next chunk.
///
/// The followers form a line behind the hub puller, in the order they started: each takes its chunks
/// from the one before it (the first from the puller), one at a time and in the order they were stored
/// there. So every node uploads each chunk about once, to one node, at its whole rate, and a chunk reaches
/// the last follower one chunk's transfer per node after the hub sent it; sharing a sender's or a receiver's
/// rate among many chunks in flight would make every hop that many times longer. A chunk the node before
/// has not got `waitPerHop` per node ahead in the line after a peer showed it (one of them is slow) is taken
/// from a node that holds the revision complete, one at a time (`take`); everything is taken from any holder,
/// rarest first, when no puller is known, and in a mesh (`SwarmTopology`). A line's tail grows with its length, so
/// past `longestLine` followers the chunks are dealt to stripes, each flowing down a tree of the followers with
/// other nodes inside (`parent(of:…)`), where followers far slower than the others go to the end of the order (`slow`).
/// Time is read through the clock it is given, so a simulation drives it (`SwarmSimulation`).
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
        /// When a peer first showed the chunk (time on the board's clock).
        let firstSeen: Duration
        /// When it was taken, while in flight.
        var takenAt: Duration?
        var inFlight: Bool { takenAt != nil }
    }

    /// Failures after which a peer is no longer asked for anything in this pull.
    static let strikesOut = 3

    private let node: String
    /// When this node started pulling (seconds since 1970, as it tells its peers).
    private let since: Double
    private let perPeer: Int
    private let grace: Duration
    private let topology: SwarmTopology
    private let clock: Stopwatch
    private var wanted: [ChunkID: Wanted] = [:]
    private var done = Set<Placement>()
    private var busy: [PeerAddress: Int] = [:]
    private var strikes: [PeerAddress: Int] = [:]
    /// How long the last chunk from each peer took, from its request to its last byte.
    private var lastTransfer: [PeerAddress: Duration] = [:]
    /// Chunks in flight from a peer other than their stripe's upstream, while there is one: see `take`.
    private var takenAround: Set<ChunkID> = []
    /// Peers that answered holding the revision complete: followers that finished no longer feed the shape.
    private var finished: Set<PeerAddress> = []
    /// The median of `lastTransfer`: how long a chunk takes to come here now; nil until one came.
    private var typicalTransfer: Duration?
    private var puller: PeerAddress?
    /// The peer this node takes each stripe's chunks from (chunks are dealt to stripes by their id): in a line one
    /// stripe, from the follower before it or the puller; in a tree its parent in each stripe's tree.
    private var upstreams: [PeerAddress?] = [nil]
    /// For each stripe, nodes between the puller and this one, this one included: a chunk takes about that many
    /// transfers to get here.
    private var hops = [1]
    /// Followers in the swarm, this node included, in their order, as of the last round that asked everyone.
    private(set) var followers: [String] = []
    /// Every follower placed so far, with the time it started: see `roles`. One that gives no answer in
    /// `FollowVerdict.missedRoundsBeforeLeaving` rounds in a row that ask everyone (killed, or silent: `SilentPeers`)
    /// loses its place, and its children move to other parents; one answer lost does not move anybody.
    private var placed: [String: Double] = [:]
    private var missedRounds: [String: Int] = [:]
    /// Followers seen receiving far slower than the others (`slow`), in trees: they go to the end of the order, where
    /// they feed nobody, for the rest of the pull. Kept once seen, so that a rate that wavers near the bound does not lay
    /// the shape out anew every round. Not in a line: there every node behind a slow one receives as slowly (it has one
    /// upstream), and one wrongly put at the end, behind the slow node, took as long as it (simulated, 16 nodes in a
    /// line at 100 MB/s with churn: 13.3 s against 7 for the others).
    private var leaves: Set<String> = []
    /// The earliest start of the pull seen on any node (seconds since 1970, like `since`): followers that started
    /// `lateAfter` or more after it are late, and hang below the others' trees (`StripeLayout`).
    private var firstStart: Double
    /// When the last chunks were stored here, and their bytes: `receiveRate`.
    private var storedLately: [(at: Duration, bytes: UInt64)] = []
    private var waiters: [CheckedContinuation<Void, Never>] = []
    private var stopped = false
    private var lastProgress: Duration = .zero
    private(set) var bytesDone: UInt64 = 0

    init(
        node: String, since: Double, perPeer: Int = 4, grace: Duration = .seconds(1), topology: SwarmTopology = .automatic,
        clock: some Clock<Duration> = ContinuousClock()
    ) {
        self.node = node
        self.since = since
        firstStart = since
        self.perPeer = perPeer
        self.grace = grace
        self.topology = topology
        self.clock = Stopwatch(clock)
    }

    /// Time since the pull last moved: a chunk stored here, or a peer showing a chunk it had not shown (the end of a
    /// long line waits many transfers for its first chunk while the nodes ahead move). A peer that shows chunks it
    /// does not give strikes out, and its answers no longer count.
    var sinceLastProgress: Duration { clock.elapsed - lastProgress }

    /// Takes in the peers' answers. Placements whose chunk the store already has (`present`) are done at once:
    /// they are returned, to be journaled. Answers from `everyone` place this node in the line again.
    func update(with answers: [(peer: PeerAddress, status: SwarmStatus)], present: Set<ChunkID>, everyone: Bool) -> [Placement] {
        if everyone {
            // The hub puller stays the puller once it has the revision complete: its last chunks, held by nobody
            // else yet, still go down the line rather than to every follower at once.
            let answered = Set(answers.compactMap(\.status.node))
            for identity in placed.keys { missedRounds[identity] = answered.contains(identity) ? 0 : missedRounds[identity, default: 0] + 1 }
            let kept = placed.filter { missedRounds[$0.key, default: 0] < FollowVerdict.missedRoundsBeforeLeaving }
            missedRounds = missedRounds.filter { kept[$0.key] != nil }
            (puller, followers, placed) = Self.roles(in: answers, node: node, since: since, puller: puller, placed: kept)
            let shape = topology == .automatic ? (followers.count > Self.longestLine ? .tree : .line) : topology
            // Slow followers still placed (one seen slow may since have left), and late ones.
            var slowPlaced = 0
            var late = 0
            if shape == .tree {
                var rates = Dictionary(
                    answers.compactMap { answer in answer.status.node.flatMap { node in answer.status.receiveRate.map { (node, $0) } } },
                    uniquingKeysWith: { first, _ in first })
                rates[node] = receiveRate
                leaves.formUnion(Self.slow(among: followers, rates: rates))
                firstStart = answers.compactMap(\.status.pullingSince).reduce(firstStart, min)
                let isLate = { [placed, since, firstStart] (follower: String) in (placed[follower] ?? since) - firstStart >= Self.lateAfter }
                var lateFollowers = followers.filter(isLate)
                // Late followers more than those on time would leave the trees to a few nodes: then all are laid out as one.
                if lateFollowers.count * 2 > followers.count { lateFollowers = [] }
                let onTime = lateFollowers.isEmpty ? followers : followers.filter { !isLate($0) }
                let slowFollowers = onTime.filter(leaves.contains)
                followers = onTime.filter { !leaves.contains($0) } + slowFollowers + lateFollowers
                slowPlaced = slowFollowers.count
                late = lateFollowers.count
            }
            let alive = answers.filter { strikes[$0.peer, default: 0] < Self.strikesOut }
            let positions =
                switch shape {
                case .line: [Self.upstream(of: node, followers: followers, puller: puller, answers: alive)]
                case .tree:
                    (0..<Self.treeFanOut).map {
                        Self.parent(of: node, stripe: $0, followers: followers, leaves: slowPlaced, late: late, puller: puller, answers: alive)
                    }
                case .mesh, .automatic: [(peer: PeerAddress?.none, hops: 1)]
                }
            upstreams = positions.map { $0.peer.flatMap { strikes[$0, default: 0] < Self.strikesOut ? $0 : nil } }
            hops = positions.map(\.hops)
        }
        let now = clock.elapsed
        var alreadyHere: [Placement] = []
        for (peer, status) in answers where strikes[peer, default: 0] < Self.strikesOut {
            if status.manifest != nil { finished.insert(peer) }
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
                    if entry.holders.insert(peer).inserted { lastProgress = now }
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
            if let pick = take() { return pick }
            await withCheckedContinuation { waiters.append($0) }
        }
        return nil
    }

    /// The chunk's bytes are in from `peer`, which may be asked for the next while they are stored.
    func received(_ id: ChunkID, from peer: PeerAddress) {
        busy[peer, default: 1] -= 1
        takenAround.remove(id)
        if let takenAt = wanted[id]?.takenAt {
            lastTransfer[peer] = clock.elapsed - takenAt
            let times = lastTransfer.values.sorted()
            typicalTransfer = times[times.count / 2]
        }
        wake()
    }

    /// The chunk is stored: returns its placements (to journal), the bytes done so far and the rate this node now
    /// receives at (for its peers: `SwarmStatus.receiveRate`).
    func stored(_ id: ChunkID) -> (placements: [Placement], bytesDone: UInt64, receiveRate: Double?) {
        let entry = wanted.removeValue(forKey: id)
        let placements = Array((entry?.placements ?? []).filter { done.insert($0).inserted })
        bytesDone = placements.reduce(bytesDone) { Self.sum($0, $1.chunk.length) }
        lastProgress = clock.elapsed
        if let length = entry?.placements.first?.chunk.length {
            storedLately.append((lastProgress, length))
            if storedLately.count > Self.rateWindow { storedLately.removeFirst() }
        }
        wake()
        return (placements, bytesDone, receiveRate)
    }

    /// Bytes per second of the chunks stored here lately, once there are half a window of them: what came after the
    /// first of them over the time since it came.
    var receiveRate: Double? {
        guard storedLately.count >= Self.rateWindow / 2, let first = storedLately.first, let last = storedLately.last else { return nil }
        let seconds = (last.at - first.at).inSeconds
        guard seconds > 0 else { return nil }
        return Double(storedLately.dropFirst().reduce(0) { $0 + $1.bytes }) / seconds
    }

    /// How long after the pull's first start a follower that starts is late: it then hangs below the trees of those
    /// that started before, rather than take a place among them and move every node after it to a new parent, one
    /// that lacks what its old parent sent it.
    static let lateAfter = 1.0

    /// Chunks over which `receiveRate` is measured.
    static let rateWindow = 16

    /// Followers receiving below this share of the followers' median rate, with at least three rates known: a node
    /// on a link at a quarter of the others' rate receives at about that share, while one whose parent in one stripe is
    /// slow still gets the other stripes at full rate (about 0.8). Placed inside a stripe's tree, such a node makes
    /// everything below it that much slower: at 16 nodes, 100 MB/s, one at a quarter of the rate behind a killed
    /// node's place took a stripe's root, and the swarm took 5.45 S/B (simulated).
    static let slowShare = 0.4

    static func slow(among followers: [String], rates: [String: Double]) -> [String] {
        let known = followers.compactMap { rates[$0] }.sorted()
        guard known.count >= 3 else { return [] }
        let median = known[known.count / 2]
        return followers.filter { rates[$0].map { $0 < median * slowShare } ?? false }
    }

    /// The peer failed to give the chunk (or gave wrong bytes): it is not asked for it again, and after
    /// `strikesOut` failures not for anything.
    func failed(_ id: ChunkID, from peer: PeerAddress) {
        busy[peer, default: 1] -= 1
        takenAround.remove(id)
        wanted[id]?.takenAt = nil
        wanted[id]?.holders.remove(peer)
        strikes[peer, default: 0] += 1
        if strikes[peer, default: 0] >= Self.strikesOut {
            for id in wanted.keys { wanted[id]?.holders.remove(peer) }
            upstreams = upstreams.map { $0 == peer ? nil : $0 }
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

    /// The next chunk to fetch and its peer, if one may be fetched now; `next()` waits for one.
    func take() -> (id: ChunkID, length: UInt64, peer: PeerAddress)? {
        guard !stopped else { return nil }
        let now = clock.elapsed
        let perHop = waitPerHop
        let mayGoAround = takenAround.count < Self.aroundAtOnce
        // Upstreams of other stripes with nothing in flight to this node, in the order a chunk is taken from them: in a
        // tree, a stripe with more of the revision's bytes than the others (chunks are dealt by id) still flows when theirs
        // have run dry, through the parents they leave idle, and no parent ever sends this node more than one chunk at a time.
        let idleUpstreams = upstreams.count > 1 ? upstreamPeers.filter { busy[$0, default: 0] == 0 }.sorted { mixed($0) < mixed($1) } : []
        // Down the line first, oldest first; then what the line is late with, rarest first.
        var best: (rank: (Int, Int, Duration, Int), id: ChunkID, length: UInt64, peer: PeerAddress, around: Bool)?
        for (id, entry) in wanted where !entry.inFlight {
            guard let length = entry.placements.first?.chunk.length else { continue }
            let lane: (Int, Int)
            let peer: PeerAddress
            let stripe = Self.stripe(of: id, among: upstreams.count)
            if let upstream = upstreams[stripe], entry.holders.contains(upstream), busy[upstream, default: 0] < upstreamInFlight(upstream) {
                (lane, peer) = ((0, 0), upstream)
            } else if let idle = idleUpstreams.first(where: entry.holders.contains) {
                (lane, peer) = ((0, 1), idle)
            } else if let upstream = upstreams[stripe], entry.holders.contains(upstream) {
                continue
            } else {
                let shaped = upstreams[stripe] != nil
                if shaped, !mayGoAround || perHop.map({ now - entry.firstSeen < $0 * hops[stripe] }) ?? true {
                    continue
                }
                var holders = entry.holders.filter { busy[$0, default: 0] < perPeer }
                let followersHolding = holders.filter { $0 != puller }
                if shaped {
                    // The puller that finished is asked only for chunks late by `pullerAfterWaits` waits, and which no
                    // follower that finished holds: its upload still feeds the shape's first nodes.
                    let finishedFollowers = followersHolding.filter(finished.contains)
                    let veryLate = perHop.map { now - entry.firstSeen >= $0 * hops[stripe] * Self.pullerAfterWaits } ?? false
                    holders = !finishedFollowers.isEmpty ? finishedFollowers : veryLate ? holders.filter(finished.contains) : []
                } else if !followersHolding.isEmpty {
                    holders = followersHolding
                }
                // Ties go by a hash of the holder and this node, so that the nodes going around spread over the
                // holders rather than all taking from the same one (the first to finish, say), and a simulation's runs repeat.
                guard let holder = holders.min(by: { (busy[$0, default: 0], mixed($0)) < (busy[$1, default: 0], mixed($1)) }) else {
                    continue
                }
                (lane, peer) = ((1, entry.holders.count), holder)
            }
            var tiebreak = Hasher()
            tiebreak.combine(id)
            tiebreak.combine(node)
            let rank = (lane.0, lane.1, entry.firstSeen, tiebreak.finalize())
            // Around the shape: from another peer than the stripe's upstream, while there is one.
            let around = lane.0 == 1 && upstreams[stripe] != nil
            if best.map({ rank < $0.rank }) ?? true { best = (rank, id, length, peer, around) }
        }
        guard let best else { return nil }
        if best.around { takenAround.insert(best.id) }
        wanted[best.id]?.takenAt = now
        busy[best.peer, default: 0] += 1
        return (best.id, best.length, best.peer)
    }

    private func mixed(_ holder: PeerAddress) -> Int {
        var hasher = Hasher()
        hasher.combine(holder)
        hasher.combine(node)
        return hasher.finalize()
    }

    /// Chunks a node takes at once from peers other than their stripe's upstream: one. Each such transfer shares a
    /// holder's upload with the children it feeds in the shape, and every late node does the same: with four per
    /// holder, the nodes going around took 60 transfers at once from the first follower to finish, and its own
    /// children in the tree waited 30 s for a chunk (simulated, 16 nodes at 5 MB/s).
    static let aroundAtOnce = 1

    /// Waits per hop after which a chunk no follower that finished holds is taken from the puller that finished. At
    /// one wait, 100 nodes at 20 MB/s all went to it as it finished and it sent 4.5 S (4.66 S/B against 1.55); at
    /// four, 16 real agents at 5 MB/s still had it send 1.8 S (2.14 S/B). A node behind a follower that downloads
    /// slowly waits minutes, and still goes to it (`aSlowFollowerInTheLineDoesNotHoldBackTheOnesBehindIt`).
    static let pullerAfterWaits = 16

    private func wake() {
        let waiting = waiters
        waiters = []
        for waiter in waiting { waiter.resume() }
    }

    /// The peer pulling from the hub, and the identities of the followers, this node (which started at `since`)
    /// included, in the order they started (then of their identities), with their starts: a node that joins late goes
    /// to the end of the line instead of cutting in front of nodes that hold more. The puller is the earliest start
    /// among the peers pulling, or the `known` one while it answers holding the revision complete. One that stops
    /// answering (killed) is replaced by the follower that took over its hub pull, rather than kept as every
    /// follower's head. A follower `placed` in an earlier round keeps its place when it finishes (it then holds every
    /// chunk: the best parent it could be) or misses an answer (its children take from the nearest ancestor that
    /// answers): were it dropped, every node after it would move to a parent that lacks what its old one sent it
    /// (simulated, 16 nodes at 5 MB/s: the first follower to finish laid the trees out anew at 65 s, and a stripe
    /// stalled for 30 s).
    static func roles(
        in answers: [(peer: PeerAddress, status: SwarmStatus)], node: String, since: Double, puller known: PeerAddress? = nil,
        placed: [String: Double] = [:]
    ) -> (puller: PeerAddress?, followers: [String], starts: [String: Double]) {
        let pulling = answers.compactMap { answer in answer.status.pullingSince.map { (answer.peer, $0, answer.status.node ?? "\(answer.peer)") } }
        let knownHolds = answers.contains { $0.peer == known && $0.status.manifest != nil }
        let puller = knownHolds ? known : pulling.min { ($0.1, $0.2) < ($1.1, $1.2) }?.0
        var starts = placed.merging([node: since]) { _, mine in mine }
        for (peer, started, identity) in pulling where peer != puller { starts[identity] = starts[identity] ?? started }
        if let puller, let identity = answers.first(where: { $0.peer == puller })?.status.node { starts[identity] = nil }
        return (puller, starts.sorted { ($0.value, $0.key) < ($1.value, $1.key) }.map(\.key), starts)
    }

    /// How long a chunk shown by a peer may wait per hop for this node's upstream to have it, before it is taken from
    /// another holder: `grace`, or twice the time chunks take to come here where that is longer; no limit until a
    /// first chunk came (an upstream that fails strikes out instead). On slow links a hop takes longer than any fixed
    /// grace (at 5 MB/s a 4 MiB chunk takes 3.4 s at a quarter of a parent's rate): with a fixed one, every follower
    /// went around the shape to the puller, the only other holder while the shape fills, and shared its upload
    /// (simulated, 16 nodes at 5 MB/s: all but the puller stalled and fell back to the hub). The median over peers,
    /// so that one slow upstream does not lengthen the wait for itself.
    private var waitPerHop: Duration? { typicalTransfer.map { max(grace, $0 * 2) } }

    /// Chunks taken at once from an upstream: one, so that each goes at the whole rate; in a line of up to
    /// `longestLine` followers, two where a chunk takes less than `pipelinedBelow`, since there the request's round
    /// trip before each chunk is a share of its transfer worth hiding (simulated at 100 MB/s: two nodes 1.47 → 1.13
    /// S/B, four 1.47 → 1.39). Two chunks share the upstream's rate, so each hop takes a chunk twice as long: a longer
    /// line, whose tail is the sum of its hops, lost more than that saved (100 nodes 5.35 → 6.77 S/B). A tree's node
    /// already has a chunk in flight from each of its stripes' parents (two there made 100 nodes 10 % slower).
    private func upstreamInFlight(_ peer: PeerAddress) -> Int {
        let pipelined = upstreams.count == 1 && max(followers.count, 1) <= Self.longestLine
        return pipelined && (lastTransfer[peer].map { $0 < Self.pipelinedBelow } ?? false) ? 2 : 1
    }

    static let pipelinedBelow = Duration.milliseconds(250)

    /// Followers beyond which `SwarmTopology.automatic` makes trees rather than a line: past about ten, the line's
    /// tail (a poll and a transfer per node) costs more than sharing a parent's rate among its children
    /// (docs/swarm.md, from `SwarmSimulation`).
    static let longestLine = 10

    /// Children of a node in each stripe's tree, and so stripes: each node is inside one stripe's tree and a leaf
    /// of the others, so it sends about one copy, to this many nodes at a share of its rate each.
    static let treeFanOut = 4

    /// The peers this node takes chunks from, each once: polled between the rounds that ask everyone.
    var upstreamPeers: [PeerAddress] {
        upstreams.reduce(into: []) { peers, peer in
            if let peer, !peers.contains(peer) { peers.append(peer) }
        }
    }

    /// The stripe a chunk is dealt to: by its id, so that every node deals alike.
    static func stripe(of id: ChunkID, among stripes: Int) -> Int {
        stripes > 1 ? Int(id.bytes.first ?? 0) % stripes : 0
    }

    /// The node `node` takes stripe `stripe`'s chunks from in a tree: the followers (sorted, the last `leaves` of the
    /// on-time ones slow) laid out as a heap with `treeFanOut` children per node under the puller, each stripe with other
    /// nodes inside its tree (`StripeLayout`); the last `late` followers laid out alike in a tree of their own, whose root
    /// takes the stripe from a node with upload to spare (`StripeLayout.feeder`). A parent that did not answer is passed
    /// over for the nearest ancestor that did. Also the node's depth under the puller.
    static func parent(
        of node: String, stripe: Int, followers: [String], leaves: Int = 0, late: Int = 0, puller: PeerAddress?,
        answers: [(peer: PeerAddress, status: SwarmStatus)]
    ) -> (peer: PeerAddress?, hops: Int) {
        let addresses = Dictionary(
            answers.compactMap { answer in answer.status.node.map { ($0, answer.peer) } }, uniquingKeysWith: { first, _ in first })
        guard let index = followers.firstIndex(of: node) else { return (puller, 1) }
        let onTime = followers.count - min(max(late, 0), followers.count - 1)
        let layout = StripeLayout(followers: onTime, stripe: stripe, leaves: leaves)
        /// The nearest ancestor that answered of a position in one group's heap, and the position's depth (1 at the root).
        func ancestor(of position: Int, in layout: StripeLayout, among group: ArraySlice<String>) -> (peer: PeerAddress?, hops: Int) {
            var position = position
            var hops = 1
            var parent: PeerAddress?
            while position > 0 {
                position = (position - 1) / treeFanOut
                hops += 1
                if parent == nil { parent = addresses[group[group.startIndex + layout.follower(at: position)]] }
            }
            return (parent, hops)
        }
        guard index >= onTime else {
            let (parent, hops) = ancestor(of: layout.position(of: index), in: layout, among: followers[..<onTime])
            return (parent ?? puller, hops)
        }
        let lateLayout = StripeLayout(followers: followers.count - onTime, stripe: stripe)
        let (parent, lateHops) = ancestor(of: lateLayout.position(of: index - onTime), in: lateLayout, among: followers[onTime...])
        guard let feeder = layout.feeder else { return (parent ?? puller, lateHops + 1) }
        let (feederParent, feederHops) = ancestor(of: layout.position(of: feeder), in: layout, among: followers[..<onTime])
        return (parent ?? addresses[followers[feeder]] ?? feederParent ?? puller, feederHops + lateHops)
    }

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

/// How followers pass a revision's chunks among themselves.
public enum SwarmTopology: String, Sendable, Codable, CaseIterable {
    /// Each follower takes its chunks from the one that started before it, one at a time (`FollowBoard`).
    case line
    /// Chunks dealt to `FollowBoard.treeFanOut` stripes; each stripe flows down a tree of the followers, with
    /// other nodes inside each tree: a chunk crosses log(N) nodes rather than N.
    case tree
    /// No fixed upstream: each chunk from the least busy peer holding it, rarest first.
    case mesh
    /// A line up to `FollowBoard.longestLine` followers, trees beyond.
    case automatic
}
