import Foundation
import MantaHub
import MantaPeer
import MantaStore
import MantaTestSupport
import MantaTransfer
import MantaWire
import Synchronization
import Testing

@testable import MantaAgent

/// The peers of one agent among several in the test: the others, once they listen.
final class SwarmMembers: PeerDiscovery {
    private let addresses = Mutex<[PeerAddress]>([])

    func set(_ peers: [PeerAddress]) { addresses.withLock { $0 = peers } }

    func peers() async -> [PeerAddress] { addresses.withLock { $0 } }
}

/// Agents in this process, each with its own store and peer server on 127.0.0.1, and a real hub serving
/// the synthetic two-shard model as `acme/shards`.
struct AgentSwarm: Sendable {
    let hub: HubServer
    let endpoint: String
    let agents: [AgentService]
    /// Each agent's discovery: what it is told its peers are.
    let members: [SwarmMembers]
    let model = try! HubModelReference("acme/shards")
    let modelBytes: Int64

    static func with(
        agents count: Int, hubRate: Int? = nil, stallTimeout: Duration = .seconds(15), topology: SwarmTopology = .automatic,
        downloadRates: [Int: UInt64] = [:], _ body: @Sendable (AgentSwarm) async throws -> Void
    ) async throws {
        let scratch = try TemporaryDirectory()
        let modelBytes = try Fixtures.copy(try Fixtures.syntheticShards(), to: scratch.appending("hub/acme/shards"))
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub"), maximumBytesPerSecond: hubRate))
        try await hub.withRunning { address in
            let members = (0..<count).map { _ in SwarmMembers() }
            let agents = try (0..<count).map { index in
                var configuration = AgentConfiguration(
                    storeRoot: scratch.appending("node\(index)"), listenHost: "127.0.0.1", listenPort: 0, token: "swarm-token",
                    hub: try HubClientConfiguration(endpoint: address.endpoint), discovery: members[index]
                )
                configuration.swarmTiming = .init(pollInterval: .milliseconds(100), stallTimeout: stallTimeout)
                configuration.swarmTopology = topology
                configuration.downloadRate = downloadRates[index]
                return try AgentService(configuration: configuration)
            }
            try await RunningServices.with(agents) { _ in
                var ports: [PeerAddress] = []
                for agent in agents { ports.append(PeerAddress(host: "127.0.0.1", port: await agent.boundPort())) }
                for (index, member) in members.enumerated() { member.set(ports.enumerated().filter { $0.offset != index }.map(\.element)) }
                try await body(AgentSwarm(hub: hub, endpoint: address.endpoint, agents: agents, members: members, modelBytes: modelBytes))
            }
        }
    }

    /// The agent has the model complete, every chunk verifies, and its files are the hub's.
    func expectComplete(_ agent: AgentService, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let (_, manifest) = try agent.store.requireManifest(try RepoReference(parsing: "acme/shards@main"))
        #expect(manifest.logicalSize == UInt64(modelBytes), sourceLocation: sourceLocation)
        #expect(manifest.chunkIDs.allSatisfy(agent.store.contains), sourceLocation: sourceLocation)
        #expect(try agent.store.verify().isClean, sourceLocation: sourceLocation)
    }
}

@Suite(.threadsOfItsOwn) struct SwarmPullTests {
    /// Whether `flag` was set within 300 checks `interval` apart.
    static func waitUntil(_ flag: borrowing Atomic<Bool>, checkingEvery interval: Duration) async throws -> Bool {
        for _ in 0..<300 where !flag.load(ordering: .relaxed) { try await Task.sleep(for: interval) }
        return flag.load(ordering: .relaxed)
    }

    @Test func nodesPullingAModelAPeerHoldsTakeNothingFromTheHub() async throws {
        try await AgentSwarm.with(agents: 3) { swarm in
            let first = try await swarm.agents[0].pull(swarm.model)
            #expect(swarm.hub.statistics.totalBytesServed >= swarm.modelBytes)
            swarm.hub.statistics.reset()
            for agent in swarm.agents.dropFirst() {
                let summary = try await agent.pull(swarm.model)
                #expect(summary.digest == first.digest, "the same revision gives the same manifest on every node")
                try swarm.expectComplete(agent)
            }
            #expect(swarm.hub.statistics.totalBytesServed == 0)
        }
    }

    @Test(arguments: [(3, SwarmTopology.automatic), (5, .tree)])
    func agentsPullingTogetherTakeTheModelFromTheHubAboutOnce(agents: Int, topology: SwarmTopology) async throws {
        try await AgentSwarm.with(agents: agents, hubRate: 12_000_000, topology: topology) { swarm in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for agent in swarm.agents { group.addTask { _ = try await agent.pull(swarm.model) } }
                try await group.waitForAll()
            }
            for agent in swarm.agents { try swarm.expectComplete(agent) }
            let served = swarm.hub.statistics.totalBytesServed
            #expect(served < swarm.modelBytes * 11 / 10, "the hub sent \(served) bytes for a \(swarm.modelBytes)-byte model and \(agents) nodes")
        }
    }

    /// Agent 0 pulls the model from the hub; once it has chunks, agent 1 pulls it too, following it. Returns both
    /// pulls once the follower has chunks from the puller.
    static func pullerAndFollower(
        _ swarm: AgentSwarm
    ) async throws -> (pulling: Task<PullSummary, any Error>, following: Task<PullSummary, any Error>) {
        func pull(_ agent: AgentService) async throws -> Task<PullSummary, any Error> {
            let progressed = Atomic<Bool>(false)
            let pulling = Task {
                try await agent.pull(swarm.model) { progress in
                    if progress.completedBytes > 0 { progressed.store(true, ordering: .relaxed) }
                }
            }
            #expect(try await waitUntil(progressed, checkingEvery: .milliseconds(20)))
            return pulling
        }
        let pulling = try await pull(swarm.agents[0])
        return (pulling, try await pull(swarm.agents[1]))
    }

    @Test func aFollowerThatMissesOnePollOfThePullerKeepsFollowingIt() async throws {
        try await AgentSwarm.with(agents: 2, hubRate: 8_000_000) { swarm in
            let (pulling, following) = try await Self.pullerAndFollower(swarm)
            // For about one round of polls the follower does not reach the puller (a lost answer, a busy peer).
            let everyone = await swarm.members[1].peers()
            swarm.members[1].set([])
            try await Task.sleep(for: .milliseconds(120))
            swarm.members[1].set(everyone)
            _ = try await pulling.value
            _ = try await following.value
            try swarm.expectComplete(swarm.agents[1])
            let served = swarm.hub.statistics.totalBytesServed
            #expect(served < swarm.modelBytes * 11 / 10, "the hub sent \(served) bytes for a \(swarm.modelBytes)-byte model")
        }
    }

    @Test func whenTheNodeFollowedStopsTheFollowerFinishesFromTheHub() async throws {
        try await AgentSwarm.with(agents: 2, hubRate: 8_000_000, stallTimeout: .seconds(1)) { swarm in
            let follower = swarm.agents[1]
            let (seeding, following) = try await Self.pullerAndFollower(swarm)
            seeding.cancel()
            _ = await seeding.result
            _ = try await following.value
            try swarm.expectComplete(follower)
            #expect(swarm.hub.statistics.totalBytesServed < swarm.modelBytes * 2)
        }
    }

    @Test func aSlowFollowerInTheLineDoesNotHoldBackTheOnesBehindIt() async throws {
        // Agent 1 takes from peers at 250 kB/s, a fiftieth of the hub's rate: the 48 MiB model would take it over
        // three minutes, far past the others (7 s alone) even with the suite running beside them (at 1 MB/s and
        // 2 MB/s they once finished after it in CI). A 4 MiB chunk takes it 16 s, so its follow must not count
        // 15 s without a new chunk as a stall and take the rest from the hub. It is cancelled once they are done.
        try await AgentSwarm.with(agents: 4, hubRate: 12_000_000, stallTimeout: .seconds(600), downloadRates: [1: 250_000]) { swarm in
            let pulling = Task { try await swarm.agents[0].pull(swarm.model) }
            try await Task.sleep(for: .milliseconds(300))
            let slowDone = Atomic<Bool>(false)
            let slow = Task {
                let summary = try await swarm.agents[1].pull(swarm.model)
                slowDone.store(true, ordering: .relaxed)
                return summary
            }
            try await Task.sleep(for: .milliseconds(50))
            let behind = swarm.agents.dropFirst(2).map { agent in Task { try await agent.pull(swarm.model) } }
            _ = try await pulling.value
            for task in behind { _ = try await task.value }
            let slowFinishedFirst = slowDone.load(ordering: .relaxed)
            #expect(!slowFinishedFirst, "the nodes behind the slow one finished before it, taking from the others")
            slow.cancel()
            _ = await slow.result
            for agent in [swarm.agents[0]] + swarm.agents.dropFirst(2) { try swarm.expectComplete(agent) }
            let served = swarm.hub.statistics.totalBytesServed
            #expect(served < swarm.modelBytes * 11 / 10, "the hub sent \(served) bytes for a \(swarm.modelBytes)-byte model")
        }
    }

    @Test func whenAFollowerInTheLineStopsTheOnesBehindItFinishFromTheOthers() async throws {
        try await AgentSwarm.with(agents: 4, hubRate: 12_000_000) { swarm in
            let pulling = Task { try await swarm.agents[0].pull(swarm.model) }
            // The followers' line is in the order they start; its first takes from the puller.
            let line = Array(swarm.agents.dropFirst())
            let firstInLineProgressed = Atomic<Bool>(false)
            try await Task.sleep(for: .milliseconds(300))
            let firstInLine = line[0]
            let stopped = Task {
                try await firstInLine.pull(swarm.model) { progress in
                    if progress.completedBytes > 0 { firstInLineProgressed.store(true, ordering: .relaxed) }
                }
            }
            try await Task.sleep(for: .milliseconds(50))
            let behind = line.dropFirst().map { agent in Task { try await agent.pull(swarm.model) } }
            let firstInLineGotChunks = try await Self.waitUntil(firstInLineProgressed, checkingEvery: .milliseconds(20))
            #expect(firstInLineGotChunks)
            stopped.cancel()
            _ = await stopped.result
            _ = try await pulling.value
            for task in behind { _ = try await task.value }
            for agent in [swarm.agents[0]] + line.dropFirst() { try swarm.expectComplete(agent) }
            // About once, not once per node: in CI, with the suite beside it, the hub once sent 5 MB more (1.13 x),
            // likely a node behind the stopped one that waited out its stall timeout near the end.
            let served = swarm.hub.statistics.totalBytesServed
            #expect(served < swarm.modelBytes * 5 / 4, "the hub sent \(served) bytes for a \(swarm.modelBytes)-byte model")
        }
    }

    @Test func aPeerManifestThatDisagreesWithTheHubIsRefusedAndTheModelComesFromTheHub() async throws {
        try await AgentSwarm.with(agents: 2) { swarm in
            let liar = swarm.agents[0]
            let honest = swarm.agents[1]
            let client = HubClient(configuration: try HubClientConfiguration(endpoint: swarm.endpoint))
            let snapshot = try await client.snapshot(of: swarm.model)
            // The liar holds the edited shards under the hub's repo and commit.
            let edited = try await Task.detached {
                try liar.store.importDirectory(try Fixtures.syntheticShardsEdited(), as: try RepoReference(parsing: "acme/edited"))
            }.value
            var forged = try liar.store.manifest(edited.digest)
            forged.source = Manifest.Source(kind: "huggingface", repo: "acme/shards", revision: "main", commit: snapshot.commit)
            try liar.store.setReference(try RepoReference(parsing: "acme/shards@main"), to: try liar.store.put(forged), pinned: true)

            swarm.hub.statistics.reset()
            _ = try await honest.pull(swarm.model)
            try swarm.expectComplete(honest)
            #expect(swarm.hub.statistics.totalBytesServed >= swarm.modelBytes, "every byte came from the hub")
        }
    }
}

@Suite(.threadsOfItsOwn) struct SwarmRolesTests {
    @Test func theEarliestPullerFeedsALineOfFollowersEachTakingFromTheOneBefore() {
        func answer(_ port: Int, since: Double?, node: String) -> (peer: PeerAddress, status: SwarmStatus) {
            (PeerAddress(host: "127.0.0.1", port: port), SwarmStatus(node: node, pullingSince: since))
        }
        func address(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }
        let answers = [
            answer(1, since: 20, node: "b"), answer(2, since: 10, node: "z"), answer(3, since: nil, node: "c"), answer(4, since: 30, node: "a"),
        ]
        let (puller, followers, _) = FollowBoard.roles(in: answers, node: "m", since: 25)
        #expect(puller == address(2))
        #expect(followers == ["b", "m", "a"], "in the order they started; the peer that is not pulling is no follower")
        #expect(
            FollowBoard.upstream(of: "b", followers: followers, puller: puller, answers: answers) == (address(2), 1),
            "the first follower takes from the puller")
        #expect(FollowBoard.upstream(of: "m", followers: followers, puller: puller, answers: answers) == (address(1), 2))
        let withoutB = answers.filter { $0.status.node != "b" }
        #expect(
            FollowBoard.upstream(of: "m", followers: followers, puller: puller, answers: withoutB) == (address(2), 1),
            "a follower that stopped answering is skipped")
    }

    @Test func thePullerStaysWhileItHoldsTheRevisionAndTheFirstFollowerTakesOverWhenItStopsAnswering() {
        func address(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }
        let manifest = Digest(bytes: Array(repeating: 1, count: 32))
        let holding = [
            (peer: address(1), status: SwarmStatus(node: "p", manifest: manifest)), (address(2), SwarmStatus(node: "a", pullingSince: 15)),
        ]
        #expect(FollowBoard.roles(in: holding, node: "m", since: 20, puller: address(1)).puller == address(1))
        // The puller was killed: "a", which took over its hub pull, heads the line.
        let (puller, followers, _) = FollowBoard.roles(in: Array(holding.dropFirst()), node: "m", since: 20, puller: address(1))
        #expect(puller == address(2) && followers == ["m"])
    }

    @Test func aFollowerKeepsItsPlaceWhenItFinishesAndLosesItAfterThreeRoundsWithoutAnAnswer() async {
        func address(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }
        let puller = (peer: address(1), status: SwarmStatus(node: "p", pullingSince: 10))
        let a = (peer: address(2), status: SwarmStatus(node: "a", pullingSince: 15))
        let b = (peer: address(3), status: SwarmStatus(node: "b", pullingSince: 18))
        let board = FollowBoard(node: "m", since: 20, topology: .line)
        _ = await board.update(with: [puller, a, b], present: [], everyone: true)
        #expect(await board.followers == ["a", "b", "m"])
        #expect(await board.upstreamPeers == [address(3)])
        // "b" has the revision complete and no longer pulls: it keeps its place, so that nobody moves.
        let finished = (peer: address(3), status: SwarmStatus(node: "b", manifest: Digest(bytes: Array(repeating: 1, count: 32))))
        _ = await board.update(with: [puller, a, finished], present: [], everyone: true)
        #expect(await board.followers == ["a", "b", "m"])
        #expect(await board.upstreamPeers == [address(3)])
        // Then it stops answering (killed): one or two rounds could be answers lost; the third moves this node up.
        for _ in 0..<2 {
            _ = await board.update(with: [puller, a], present: [], everyone: true)
            #expect(await board.followers == ["a", "b", "m"])
            #expect(await board.upstreamPeers == [address(2)], "the nearest node before it that answers feeds this one")
        }
        _ = await board.update(with: [puller, a], present: [], everyone: true)
        #expect(await board.followers == ["a", "m"])
    }
}

@Suite struct SlowFollowerTests {
    @Test func aFollowerReceivingAtAQuarterOfTheOthersRateMovesToTheEndAndStaysThere() async {
        func answer(_ node: String, started: Double, rate: Double?) -> (peer: PeerAddress, status: SwarmStatus) {
            (PeerAddress(host: "127.0.0.1", port: Int(started)), SwarmStatus(node: node, pullingSince: started, receiveRate: rate))
        }
        let puller = answer("p", started: 10, rate: nil)
        let board = FollowBoard(node: "m", since: 20, topology: .tree)
        _ = await board.update(with: [puller, answer("a", started: 11, rate: 4e6), answer("b", started: 12, rate: 5e6)], present: [], everyone: true)
        #expect(await board.followers == ["a", "b", "m"], "two rates are too few to call one slow")
        let slow = [puller, answer("a", started: 11, rate: 1e6), answer("b", started: 12, rate: 5e6), answer("c", started: 13, rate: 4.5e6)]
        _ = await board.update(with: slow, present: [], everyone: true)
        #expect(await board.followers == ["b", "c", "m", "a"])
        // Its rate comes back within reach of the others: it stays a leaf rather than lay the shape out again.
        let recovered = [puller, answer("a", started: 11, rate: 3e6), answer("b", started: 12, rate: 5e6), answer("c", started: 13, rate: 4.5e6)]
        _ = await board.update(with: recovered, present: [], everyone: true)
        #expect(await board.followers == ["b", "c", "m", "a"])
    }

    @Test func aSlowFollowerThatLeavesNoLongerCountsInTheLayout() async {
        // Sixteen followers behind a puller, "f00" slow; then it is killed and misses three rounds.
        func answers(_ nodes: [String], slow: String?) -> [(peer: PeerAddress, status: SwarmStatus)] {
            [(PeerAddress(host: "127.0.0.1", port: 1), SwarmStatus(node: "p", pullingSince: 1))]
                + nodes.enumerated().map { index, node in
                    (
                        PeerAddress(host: "127.0.0.1", port: 100 + index),
                        SwarmStatus(node: node, pullingSince: Double(10 + index), receiveRate: node == slow ? 1e6 : 5e6)
                    )
                }
        }
        let others = (1...14).map { String(format: "f%02d", $0) }
        let board = FollowBoard(node: "m", since: 100, topology: .tree)
        _ = await board.update(with: answers(["f00"] + others, slow: "f00"), present: [], everyone: true)
        #expect(await board.followers == others + ["m", "f00"])
        for _ in 0..<FollowVerdict.missedRoundsBeforeLeaving { _ = await board.update(with: answers(others, slow: nil), present: [], everyone: true) }
        #expect(await board.followers == others + ["m"])
        // The same parents as a board that never saw a slow node.
        let fresh = FollowBoard(node: "m", since: 100, topology: .tree)
        _ = await fresh.update(with: answers(others, slow: nil), present: [], everyone: true)
        #expect(await board.upstreamPeers == fresh.upstreamPeers)
    }

    @Test func inALineASlowFollowerKeepsItsPlace() async {
        // Every node behind it receives as slowly: moved to the end, each would be called slow in turn.
        let board = FollowBoard(node: "m", since: 20, topology: .line)
        let answers = [("p", 10.0, nil), ("a", 11, 1e6), ("b", 12, 5e6), ("c", 13, 4.5e6)].map { node, started, rate in
            (peer: PeerAddress(host: "127.0.0.1", port: Int(started)), status: SwarmStatus(node: node, pullingSince: started, receiveRate: rate))
        }
        _ = await board.update(with: answers, present: [], everyone: true)
        #expect(await board.followers == ["a", "b", "c", "m"])
    }

    @Test func aFollowerWhoseParentIsSlowInOneStripeIsNotCalledSlow() {
        let rates = ["a": 5e6, "b": 4.8e6, "c": 0.8 * 5e6, "d": 5.2e6]
        #expect(FollowBoard.slow(among: ["a", "b", "c", "d"], rates: rates).isEmpty)
        #expect(FollowBoard.slow(among: ["a", "b", "c", "d", "e"], rates: rates.merging(["e": 1.25e6]) { $1 }) == ["e"])
    }
}

@Suite struct FollowBoardPipeliningTests {
    /// A board for node "m", last of `followersAhead` followers behind a puller, whose upstream shows four chunks and
    /// has sent the first in 50 ms.
    static func boardAfterOneFastChunk(followersAhead: Int) async -> (board: FollowBoard, upstream: PeerAddress) {
        let chunks = (0..<4).map {
            Manifest.Chunk(offset: UInt64($0) << 20, length: 1 << 20, id: Digest(bytes: Array(repeating: UInt8($0 + 1), count: 32)))
        }
        let puller = (peer: PeerAddress(host: "127.0.0.1", port: 1), status: SwarmStatus(node: "puller", pullingSince: 1))
        let followers = (0..<followersAhead).map { index in
            (peer: PeerAddress(host: "127.0.0.1", port: 100 + index), status: SwarmStatus(node: "f\(index)", pullingSince: Double(10 + index)))
        }
        let upstream = followers.last!.peer
        var answers = [puller] + followers
        answers[answers.count - 1].status.chunks = ["model.safetensors": chunks]
        let clock = ManualClock()
        let board = FollowBoard(node: "m", since: 1_000, topology: .line, clock: clock)
        _ = await board.update(with: answers, present: [], everyone: true)
        let first = await board.take()
        #expect(first?.peer == upstream)
        clock.advance(by: .milliseconds(50))
        if let first {
            await board.received(first.id, from: upstream)
            _ = await board.stored(first.id)
        }
        return (board, upstream)
    }

    @Test func aShortLineTakesTwoChunksAtOnceFromAFastUpstream() async {
        let (board, upstream) = await Self.boardAfterOneFastChunk(followersAhead: 2)
        #expect(await board.take()?.peer == upstream)
        #expect(await board.take()?.peer == upstream, "a chunk in 50 ms: the next request's round trip is worth hiding")
    }

    @Test func aLineLongerThanTheLongestTakesOneChunkAtATime() async {
        let (board, upstream) = await Self.boardAfterOneFastChunk(followersAhead: FollowBoard.longestLine + 1)
        #expect(await board.take()?.peer == upstream)
        #expect(await board.take() == nil, "two chunks would halve the upstream's rate for each, and a long line adds up its hops")
    }
}
