import Foundation
import MantaPeer
import MantaStore
import MantaTestSupport
import MantaTransfer
import MantaWire
import Testing

@testable import MantaAgent

@Suite(.threadsOfItsOwn) struct SwarmSimulationTests {
    /// 64 MiB in 16 chunks at 10 MB/s: S/B = 6.7 s.
    static func configuration(nodes: Int, topology: SwarmTopology = .line) -> SwarmSimulation.Configuration {
        var configuration = SwarmSimulation.Configuration(nodes: nodes, modelBytes: 64 << 20, rate: 10e6)
        configuration.topology = topology
        return configuration
    }

    @Test func aLoneNodePullsFromTheHubAtItsLinkRate() async throws {
        let outcome = await SwarmSimulation(Self.configuration(nodes: 1)).run()
        let makespan = try #require(outcome.makespan)
        let ideal = outcome.configuration.idealSeconds
        #expect(makespan >= ideal && makespan < ideal * 1.05, "\(makespan) s for S/B = \(ideal) s")
        #expect(outcome.hubBytes == outcome.configuration.modelBytes)
    }

    @Test(arguments: SwarmTopology.allCases)
    func everyNodeFinishesAndTheHubSendsEachByteOnce(topology: SwarmTopology) async throws {
        let outcome = await SwarmSimulation(Self.configuration(nodes: 8, topology: topology)).run()
        let makespan = try #require(outcome.makespan, "\(outcome.finishTimes)")
        #expect(makespan >= outcome.configuration.idealSeconds)
        #expect(outcome.hubBytes == outcome.configuration.modelBytes, "hub egress \(outcome.hubBytes)")
        #expect(outcome.hubFallbacks == 0)
        // Every follower took every byte from a peer: the uploads add up to what seven nodes received.
        #expect(outcome.uploadBytes.reduce(0, +) == 7 * outcome.configuration.modelBytes)
    }

    @Test func treesKeepTheTailOfALargeSwarmShortWhereALineGrowsWithN() async throws {
        var configuration = Self.configuration(nodes: 64, topology: .tree)
        configuration.modelBytes = 256 << 20
        configuration.rate = 100e6
        let tree = try #require(await SwarmSimulation(configuration).run().makespan) / configuration.idealSeconds
        configuration.topology = .line
        let line = try #require(await SwarmSimulation(configuration).run().makespan) / configuration.idealSeconds
        #expect(tree < 2 && tree < 0.6 * line, "tree \(tree) S/B, line \(line) S/B")
    }

    @Test func theSameSeedGivesTheSameOutcome() async {
        var configuration = Self.configuration(nodes: 6)
        configuration.rateSpread = 0.5
        let first = await SwarmSimulation(configuration).run()
        let second = await SwarmSimulation(configuration).run()
        #expect(first.finishTimes == second.finishTimes && first.uploadBytes == second.uploadBytes)
    }

    @Test func aNodeKilledMidPullDoesNotStopTheOthers() async throws {
        var configuration = Self.configuration(nodes: 6)
        configuration.kills = [2: 0.4 * configuration.idealSeconds]
        let outcome = await SwarmSimulation(configuration).run()
        #expect(outcome.finishTimes[2] == nil)
        #expect(outcome.makespan != nil, "every other node finishes: \(outcome.finishTimes)")
        // Node 2 is the hub puller here: what it had pulled and not yet passed on is pulled again, once.
        #expect(outcome.hubBytes < configuration.modelBytes * 3 / 2, "hub egress \(outcome.hubBytes)")
    }
}

/// The simulator against the real-agent swarm benchmark (benchmarks/RESULTS.md, "After the stall watchdog": eight
/// agents in network namespaces, S = 16 MiB in 4 MiB chunks, B = 2 MB/s): makespans within 10 %.
@Suite(.threadsOfItsOwn) struct SwarmSimulationCalibrationTests {
    static func realBenchmark() -> SwarmSimulation.Configuration {
        SwarmSimulation.Configuration(nodes: 8, modelBytes: 16 << 20, rate: 2e6)
    }

    @Test func aQuietSwarmTakesWhatTheRealAgentsTook() async throws {
        let outcome = await SwarmSimulation(Self.realBenchmark()).run()
        let ratio = try #require(outcome.makespan) / outcome.configuration.idealSeconds
        #expect(abs(ratio / 6.42 - 1) <= 0.1, "\(ratio) S/B; the real agents took 6.42 S/B")
    }

    @Test func aSwarmThatLosesANodeTakesWhatTheRealAgentsTook() async throws {
        var configuration = Self.realBenchmark()
        configuration.kills = [4: 0.4 * configuration.idealSeconds]
        let outcome = await SwarmSimulation(configuration).run()
        let ratio = try #require(outcome.makespan) / configuration.idealSeconds
        #expect(abs(ratio / 5.46 - 1) <= 0.1, "\(ratio) S/B; the real agents took 5.46 S/B")
    }
}

@Suite(.threadsOfItsOwn) struct FollowBoardTreeTests {
    @Test func eachFollowerIsInsideOneStripesTreeAndALeafOfTheOthers() throws {
        let followers = (0..<16).map { "node-\(String(format: "%02d", $0))" }
        let answers = followers.enumerated().map { index, node in
            (peer: PeerAddress(host: "10.0.0.\(index)", port: 1), status: SwarmStatus(node: node, pullingSince: Double(index)))
        }
        let puller = PeerAddress(host: "10.0.1.1", port: 1)
        var parentsIn: [PeerAddress: Set<Int>] = [:]
        for stripe in 0..<FollowBoard.treeFanOut {
            var children: [PeerAddress?: Int] = [:]
            for node in followers {
                let (parent, hops) = FollowBoard.parent(of: node, stripe: stripe, followers: followers, puller: puller, answers: answers)
                #expect(hops <= 3, "16 followers under a 4-ary tree are at most 2 levels below its root")
                children[parent, default: 0] += 1
                if let parent, parent != puller { parentsIn[parent, default: []].insert(stripe) }
            }
            #expect(children.values.allSatisfy { $0 <= FollowBoard.treeFanOut } && children[puller] == 1, "\(children)")
        }
        #expect(parentsIn.values.allSatisfy { $0.count == 1 }, "each node sends in one stripe: \(parentsIn)")
        #expect(parentsIn.count == followers.count)
    }
}

@Suite(.threadsOfItsOwn) struct FollowBoardClockTests {
    @Test func aChunkTheUpstreamLacksIsTakenFromAnotherHolderOnlyAfterTheGracePerHop() async throws {
        let clock = ManualClock()
        let board = FollowBoard(node: "m", since: 20, grace: .seconds(1), clock: clock)
        func address(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }
        let chunk = Manifest.Chunk(offset: 0, length: 10, id: Digest(bytes: Array(repeating: 7, count: 32)))
        // Puller "p" (port 1) started first, then "a" (port 2), then this node: its upstream is "a", two hops from the puller.
        let answers = [
            (peer: address(1), status: SwarmStatus(node: "p", pullingSince: 10, chunks: ["f": [chunk]])),
            (peer: address(2), status: SwarmStatus(node: "a", pullingSince: 15)),
        ]
        #expect(await board.update(with: answers, present: [], everyone: true).isEmpty)
        #expect(await board.upstreamPeers == [address(2)])
        #expect(await board.take() == nil, "the line is given time to bring it")
        clock.advance(by: .milliseconds(1_999))
        #expect(await board.take() == nil)
        clock.advance(by: .milliseconds(1))
        let taken = try #require(await board.take())
        #expect(taken.id == chunk.id && taken.peer == address(1))
        #expect(await board.sinceLastProgress == .seconds(2))
    }
}
