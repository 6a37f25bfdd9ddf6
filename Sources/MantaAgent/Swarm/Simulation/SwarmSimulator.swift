import HeapModule
import MantaHub
import MantaPeer
import MantaStore
import MantaTransfer
import MantaWire

/// The event loop of a `SwarmSimulation`. Each node is what `SwarmPuller` runs, by its rules: polls every
/// `pollInterval / 4` (only the node it follows; everyone, or `peersAsked` of them, every fourth), a verdict on
/// each round (`FollowVerdict`), followers' chunks chosen by a `FollowBoard` of its own, 16 fetches at once,
/// and hub pulls as `ModelPuller` makes them (segments of consecutive chunks, `hubStreams` at a time). The
/// boards read time from a `ManualClock` that the loop moves from event to event.
final class SwarmSimulator {
    private enum Event {
        case start(Int)
        case poll(Int)
        /// A request has crossed the links: its bytes start flowing.
        case transferBegins(Int)
        case transferEnds(Int, version: Int)
        case kill(Int)
    }

    private struct Scheduled: Comparable {
        var time: Double
        var sequence: Int
        var event: Event

        static func < (left: Scheduled, right: Scheduled) -> Bool { (left.time, left.sequence) < (right.time, right.sequence) }
        static func == (left: Scheduled, right: Scheduled) -> Bool { left.sequence == right.sequence }
    }

    private enum Mode {
        case waiting, following, hub, done, dead
    }

    /// What a transfer is for.
    private enum Purpose {
        /// A follower's fetch of a chunk from a peer, chosen by its board.
        case follow(peer: Int)
        /// A hub pull's stream, working through a segment of consecutive chunks.
        case hubStream(rest: ArraySlice<Int>)
    }

    private struct Node {
        let address: PeerAddress
        let identity: String
        let rate: Double
        let latency: Double
        let start: Double
        var view: [Int]
        var mode = Mode.waiting
        var board: FollowBoard?
        /// Chunks in the order they were stored: what the node's resume journal tells its peers.
        var journal: [Manifest.Chunk] = []
        var has = Set<Int>()
        /// Journal entries of each peer already seen.
        var seen: [Int: Int] = [:]
        var round = 0
        var working = false
        var roundsWithoutAnEarlierPuller = 0
        var manifestAccepted = false
        var fetching = 0
        var hubSegments: [[Int]] = []
        var finish: Double?
        var uploaded: UInt64 = 0
        var receiveRate: Double?
    }

    private static let file = "model.safetensors"
    private static let manifestDigest = Digest(bytes: Array(repeating: 0xAB, count: 32))

    private let configuration: SwarmSimulation.Configuration
    private let clock = ManualClock()
    private let chunks: [Manifest.Chunk]
    private let chunkIndex: [ChunkID: Int]
    private var nodes: [Node]
    private var network: SimulatedNetwork
    private var purposes: [Int: Purpose] = [:]
    private var queue = Heap<Scheduled>()
    private var sequence = 0
    private var now = 0.0
    private var hubBytes: UInt64 = 0
    private var hubFallbacks = 0
    private var events = 0

    init(_ configuration: SwarmSimulation.Configuration) {
        self.configuration = configuration
        var chunks: [Manifest.Chunk] = []
        var offset: UInt64 = 0
        while offset < configuration.modelBytes {
            let length = min(configuration.chunkBytes, configuration.modelBytes - offset)
            // Ids as a hash would make them, so that stripes dealt by id are as uneven as a real model's; the index too,
            // so that they are distinct.
            var draw = SplitMix64(seed: UInt64(chunks.count))
            var bytes = (0..<4).flatMap { _ in withUnsafeBytes(of: draw.next()) { Array($0) } }
            withUnsafeBytes(of: UInt64(chunks.count).littleEndian) { bytes.replaceSubrange(24..<32, with: $0) }
            chunks.append(Manifest.Chunk(offset: offset, length: length, id: Digest(bytes: bytes)))
            offset += length
        }
        self.chunks = chunks
        chunkIndex = Dictionary(uniqueKeysWithValues: chunks.enumerated().map { ($1.id, $0) })
        var random = SplitMix64(seed: configuration.seed)
        let count = configuration.nodes
        var nodes: [Node] = []
        for index in 0..<count {
            var rate = configuration.rate * (1 + configuration.rateSpread * (2 * random.nextUnit() - 1))
            if configuration.slowNodes.contains(index) { rate = configuration.rate / 4 }
            let latency = configuration.latency.lowerBound + (configuration.latency.upperBound - configuration.latency.lowerBound) * random.nextUnit()
            let others = (0..<count).filter { $0 != index }
            let view = configuration.peersAsked.map { asked in Array(others.shuffled(using: &random).prefix(asked)) } ?? others
            nodes.append(
                Node(
                    address: PeerAddress(host: "node", port: index), identity: "node-\(index)", rate: rate, latency: latency,
                    start: configuration.lateStarts[index] ?? 0.01 * random.nextUnit(), view: view))
        }
        self.nodes = nodes
        let rates = nodes.map(\.rate)
        let hubRate = configuration.hubRate ?? configuration.rate
        network = SimulatedNetwork(
            uploadRate: { endpoint in
                switch endpoint {
                case .hub: hubRate
                case .node(let index): rates[index]
                }
            },
            downloadRate: { rates[$0] }
        )
    }

    func run() async -> SwarmSimulation.Outcome {
        for index in nodes.indices { schedule(.start(index), at: nodes[index].start) }
        for (index, time) in configuration.kills where nodes.indices.contains(index) { schedule(.kill(index), at: time) }
        let limit = configuration.timeLimit ?? 20 * configuration.idealSeconds + 60
        while let next = queue.popMin(), next.time <= limit, !allDone {
            now = next.time
            clock.advance(to: .init(offset: .seconds(now)))
            events += 1
            await handle(next.event)
        }
        let survivors = nodes.indices.filter { configuration.kills[$0] == nil }
        let finishes = survivors.map { nodes[$0].finish }
        return SwarmSimulation.Outcome(
            configuration: configuration, finishTimes: nodes.map(\.finish),
            makespan: finishes.contains(nil) ? nil : finishes.compactMap { $0 }.max(), hubBytes: hubBytes,
            uploadBytes: nodes.map(\.uploaded), hubFallbacks: hubFallbacks, events: events, wallSeconds: 0)
    }

    private var allDone: Bool { nodes.allSatisfy { $0.mode == .done || $0.mode == .dead } }

    private func schedule(_ event: Event, at time: Double) {
        queue.insert(Scheduled(time: time, sequence: sequence, event: event))
        sequence += 1
    }

    private func handle(_ event: Event) async {
        switch event {
        case .start(let index):
            guard nodes[index].mode == .waiting else { return }
            nodes[index].mode = .following
            nodes[index].board = FollowBoard(
                node: nodes[index].identity, since: nodes[index].start, topology: configuration.topology, clock: clock)
            await poll(index)
        case .poll(let index):
            await poll(index)
        case .transferBegins(let id):
            guard let purpose = purposes[id], let transfer = network.transfers[id] else { return }
            guard nodes[transfer.to].mode != .dead else {
                purposes[id] = nil
                reschedule(network.end(id, at: now).changed)
                return
            }
            if case .follow(let peer) = purpose, nodes[peer].mode == .dead {
                // Refused: the board strikes the peer and the chunk goes elsewhere.
                await fail(id, of: transfer.to, chunk: transfer.chunk, from: peer)
                return
            }
            reschedule(network.begin(id, at: now))
        case .transferEnds(let id, let version):
            guard network.transfers[id]?.version == version else { return }
            await complete(id)
        case .kill(let index):
            nodes[index].mode = .dead
            await nodes[index].board?.stop()
            for id in network.touching(index) {
                guard let transfer = network.transfers[id] else { continue }
                if case .follow(let peer)? = purposes[id], peer == index, nodes[transfer.to].mode != .dead {
                    await fail(id, of: transfer.to, chunk: transfer.chunk, from: peer)
                } else {
                    purposes[id] = nil
                    reschedule(network.end(id, at: now).changed)
                }
            }
        }
    }

    // MARK: Polling, as SwarmPuller.poll

    private func poll(_ index: Int) async {
        guard nodes[index].mode == .following, let board = nodes[index].board else { return }
        let interval = configuration.pollInterval / Double(SwarmPuller.upstreamPollsPerRound)
        defer {
            if nodes[index].mode == .following { schedule(.poll(index), at: now + interval + 2 * nodes[index].latency) }
        }
        let round = nodes[index].round
        nodes[index].round += 1
        if round % SwarmPuller.upstreamPollsPerRound != 0 {
            let upstreams = await board.upstreamPeers.compactMap(self.index(of:))
            guard !upstreams.isEmpty else { return }
            let answers = ask(upstreams, for: index)
            journal(await board.update(with: answers, present: present(answers, at: index), everyone: false), at: index)
            await dispatch(index)
            return
        }
        var answers = ask(nodes[index].view, for: index)
        let anEarlierPuller = answers.contains { ($0.status.pullingSince ?? .infinity) < nodes[index].start }
        nodes[index].roundsWithoutAnEarlierPuller = anEarlierPuller ? 0 : nodes[index].roundsWithoutAnEarlierPuller + 1
        let holders = answers.filter { $0.status.manifest != nil }
        // The simulated peers' manifests always match the hub's list.
        if !holders.isEmpty {
            nodes[index].manifestAccepted = true
            answers += holders.map { ($0.peer, SwarmStatus(node: $0.status.node, chunks: [Self.file: chunks])) }
        }
        let verdict = FollowVerdict(
            holdersAnswered: !holders.isEmpty, manifestAccepted: nodes[index].manifestAccepted, anEarlierPuller: anEarlierPuller,
            following: nodes[index].working, roundsWithoutAnEarlierPuller: nodes[index].roundsWithoutAnEarlierPuller,
            stalled: await board.sinceLastProgress > .seconds(configuration.stallTimeout),
            allHere: nodes[index].manifestAccepted && nodes[index].has.count == chunks.count
        )
        switch verdict {
        case .wait:
            return
        case .hub, .finish:
            await board.stop()
            if verdict == .finish, nodes[index].has.count == chunks.count {
                finish(index)
            } else {
                // A follower that gives up (or whose holders stopped giving) takes the rest from the hub.
                if nodes[index].working { hubFallbacks += 1 }
                startHubPull(index)
            }
        case .follow:
            journal(await board.update(with: answers, present: present(answers, at: index), everyone: true), at: index)
            nodes[index].working = true
            await dispatch(index)
        }
    }

    /// The peers' answers as `SwarmBoard.status` gives them: a complete manifest, or the chunks journaled since
    /// the asker last asked. Nodes not started, dead or not pulling do not answer.
    private func ask(_ peers: [Int], for asker: Int) -> [(peer: PeerAddress, status: SwarmStatus)] {
        var answers: [(peer: PeerAddress, status: SwarmStatus)] = []
        for peer in peers {
            let node = nodes[peer]
            switch node.mode {
            case .done:
                answers.append((node.address, SwarmStatus(node: node.identity, manifest: Self.manifestDigest)))
            case .following, .hub:
                let seen = nodes[asker].seen[peer, default: 0]
                let fresh = node.journal[min(seen, node.journal.count)...].prefix(SwarmStatus.maximumChunks)
                nodes[asker].seen[peer] = seen + fresh.count
                let status = SwarmStatus(
                    node: node.identity, pullingSince: node.start, chunks: fresh.isEmpty ? [:] : [Self.file: Array(fresh)],
                    receiveRate: node.receiveRate)
                answers.append((node.address, status))
            case .waiting, .dead:
                continue
            }
        }
        return answers
    }

    private func present(_ answers: [(peer: PeerAddress, status: SwarmStatus)], at index: Int) -> Set<ChunkID> {
        var present = Set<ChunkID>()
        for answer in answers {
            for chunk in answer.status.chunks.values.joined() where nodes[index].has.contains(chunkIndex[chunk.id] ?? -1) { present.insert(chunk.id) }
        }
        return present
    }

    private func index(of address: PeerAddress) -> Int? {
        nodes.indices.contains(address.port) ? address.port : nil
    }

    private func journal(_ placements: [FollowBoard.Placement], at index: Int) {
        nodes[index].journal += placements.map(\.chunk)
    }

    // MARK: Fetching

    /// Starts fetches the board allows, up to the follower's 16 at once.
    private func dispatch(_ index: Int) async {
        guard let board = nodes[index].board else { return }
        while nodes[index].fetching < SwarmPuller.followWorkers, let (id, _, address) = await board.take(), let peer = self.index(of: address),
            let chunk = chunkIndex[id]
        {
            nodes[index].fetching += 1
            request(chunk, from: .node(peer), to: index, purpose: .follow(peer: peer))
        }
    }

    /// A request crosses the links (a round trip) before its bytes flow.
    private func request(_ chunk: Int, from sender: SimulatedNetwork.Endpoint, to receiver: Int, purpose: Purpose) {
        let id = network.add(from: sender, to: receiver, chunk: chunk, bytes: chunks[chunk].length, at: now)
        purposes[id] = purpose
        let senderLatency = if case .node(let peer) = sender { nodes[peer].latency } else { 0.0 }
        schedule(.transferBegins(id), at: now + 2 * (nodes[receiver].latency + senderLatency))
    }

    private func reschedule(_ ids: [Int]) {
        for id in ids {
            if let (time, version) = network.completion(of: id) { schedule(.transferEnds(id, version: version), at: time) }
        }
    }

    private func complete(_ id: Int) async {
        let (ended, changed) = network.end(id, at: now)
        reschedule(changed)
        guard let transfer = ended, let purpose = purposes.removeValue(forKey: id) else { return }
        let index = transfer.to
        let chunk = chunks[transfer.chunk]
        switch purpose {
        case .follow(let peer):
            nodes[peer].uploaded += chunk.length
            nodes[index].fetching -= 1
            guard let board = nodes[index].board else { return }
            await board.received(chunk.id, from: nodes[peer].address)
            nodes[index].has.insert(transfer.chunk)
            let stored = await board.stored(chunk.id)
            nodes[index].receiveRate = stored.receiveRate
            journal(stored.placements, at: index)
            if nodes[index].mode == .following { await dispatch(index) }
        case .hubStream(let rest):
            hubBytes += chunk.length
            if nodes[index].has.insert(transfer.chunk).inserted { nodes[index].journal.append(chunk) }
            if let next = rest.first {
                // The same response goes on with the segment's next chunk.
                let following = network.add(from: .hub, to: index, chunk: next, bytes: chunks[next].length, at: now)
                purposes[following] = .hubStream(rest: rest.dropFirst())
                reschedule(network.begin(following, at: now))
            } else if !nodes[index].hubSegments.isEmpty {
                startHubStream(index)
            }
        }
        if nodes[index].mode == .hub, nodes[index].has.count == chunks.count { finish(index) }
    }

    private func fail(_ id: Int, of index: Int, chunk: Int, from peer: Int) async {
        purposes[id] = nil
        reschedule(network.end(id, at: now).changed)
        nodes[index].fetching -= 1
        await nodes[index].board?.failed(chunks[chunk].id, from: nodes[peer].address)
        if nodes[index].mode == .following { await dispatch(index) }
    }

    // MARK: Hub pulls, as ModelPuller makes them

    private func startHubPull(_ index: Int) {
        nodes[index].mode = .hub
        let missing = chunks.indices.filter { !nodes[index].has.contains($0) }
        guard !missing.isEmpty else { return finish(index) }
        let remaining = missing.reduce(UInt64(0)) { $0 + chunks[$1].length }
        let target = PullSegments.target(remaining: remaining, chunkSize: configuration.chunkBytes, streams: configuration.hubStreams)
        let segments = PullSegments.runs(of: missing, target: target) { chunks[$0].length }
        nodes[index].hubSegments = segments
        for _ in 0..<min(configuration.hubStreams, segments.count) { startHubStream(index) }
    }

    private func startHubStream(_ index: Int) {
        let segment = nodes[index].hubSegments.removeFirst()
        guard let first = segment.first else { return }
        request(first, from: .hub, to: index, purpose: .hubStream(rest: segment.dropFirst()))
    }

    private func finish(_ index: Int) {
        nodes[index].mode = .done
        nodes[index].finish = now
    }
}
