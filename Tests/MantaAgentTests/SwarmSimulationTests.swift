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

    /// Issue 27's case: a quarter of the nodes start at half S/B. Before they had a tree of their own, they took places
    /// among the others, who took 22 % longer than without them.
    @Test func nodesJoiningLateCostTheOthersUnderATenth() async throws {
        var configuration = SwarmSimulation.Configuration(nodes: 16, modelBytes: 256 << 20, rate: 5e6)
        let quiet = await SwarmSimulation(configuration).run()
        configuration.lateStarts = Dictionary(uniqueKeysWithValues: (12..<16).map { ($0, 0.5 * configuration.idealSeconds) })
        let late = await SwarmSimulation(configuration).run()
        let others = { (outcome: SwarmSimulation.Outcome) in outcome.finishTimes[..<12].compactMap { $0 }.max() ?? .infinity }
        #expect(late.finishTimes.allSatisfy { $0 != nil }, "\(late.finishTimes)")
        #expect(others(late) <= 1.1 * others(quiet), "\(others(late)) s with four late nodes, \(others(quiet)) s without")
    }
}

/// The simulator against the real-agent swarm benchmark (benchmarks/RESULTS.md, "Stripes that fit, places kept":
/// eight agents in network namespaces, S = 16 MiB, B = 2 MB/s, medians of three runs each): makespans within 10 %.
/// The hub's rate is the one the real puller reached: 16 MiB in 10.3–11.1 s, not the link's 8.4 s (its HTTP and
/// storing, and a follower's 2 MiB from the hub on the same link), which every node in a line waits for.
@Suite(.threadsOfItsOwn) struct SwarmSimulationCalibrationTests {
    static func realBenchmark() -> SwarmSimulation.Configuration {
        var configuration = SwarmSimulation.Configuration(nodes: 8, modelBytes: 16 << 20, rate: 2e6)
        configuration.hubRate = 1.6e6
        return configuration
    }

    @Test func aQuietSwarmTakesWhatTheRealAgentsTook() async throws {
        let outcome = await SwarmSimulation(Self.realBenchmark()).run()
        let ratio = try #require(outcome.makespan) / outcome.configuration.idealSeconds
        #expect(abs(ratio / 3.94 - 1) <= 0.1, "\(ratio) S/B; the real agents took 3.94 S/B")
    }

    @Test func aSwarmThatLosesANodeTakesWhatTheRealAgentsTook() async throws {
        var configuration = Self.realBenchmark()
        configuration.kills = [4: 0.4 * configuration.idealSeconds]
        let outcome = await SwarmSimulation(configuration).run()
        let ratio = try #require(outcome.makespan) / configuration.idealSeconds
        #expect(abs(ratio / 3.96 - 1) <= 0.1, "\(ratio) S/B; the real agents took 3.96 S/B")
    }
}

@Suite(.threadsOfItsOwn) struct FollowBoardTreeTests {
    @Test(arguments: 1...70) func everyFollowerHasOnePlaceInEachStripeAndFeedsAtMostTheFanOutOverAllStripes(followers: Int) {
        var children = Array(repeating: 0, count: followers)
        for stripe in 0..<FollowBoard.treeFanOut {
            let layout = StripeLayout(followers: followers, stripe: stripe)
            let positions = (0..<followers).map(layout.position(of:))
            #expect(Set(positions) == Set(0..<followers), "stripe \(stripe): \(positions)")
            #expect(positions.indices.allSatisfy { layout.follower(at: positions[$0]) == $0 })
            for position in 1..<max(followers, 1) { children[layout.follower(at: (position - 1) / FollowBoard.treeFanOut)] += 1 }
        }
        #expect(children.allSatisfy { $0 <= FollowBoard.treeFanOut }, "\(children)")
    }

    @Test(arguments: 2...70) func aSlowFollowerAtTheEndFeedsNobodyInAnyStripe(followers: Int) {
        for leaves in 1...2 {
            var children = Array(repeating: 0, count: followers)
            for stripe in 0..<FollowBoard.treeFanOut {
                let layout = StripeLayout(followers: followers, stripe: stripe, leaves: leaves)
                #expect(Set((0..<followers).map(layout.position(of:))) == Set(0..<followers))
                for position in 1..<followers { children[layout.follower(at: (position - 1) / FollowBoard.treeFanOut)] += 1 }
            }
            #expect(children.allSatisfy { $0 <= FollowBoard.treeFanOut }, "\(leaves) slow: \(children)")
            // Four nodes left after the blocks (followers a multiple of four) leave three for four partial positions
            // with three children each: one of them goes to the slow node.
            if leaves == 1, followers % FollowBoard.treeFanOut != 0 { #expect(children.last == 0, "\(children)") }
        }
    }

    @Test(arguments: 1...40) func followersJoiningLateMoveNobodyWhoStartedOnTime(onTime: Int) {
        let followers = (0..<(2 * onTime)).map { "node-\(String(format: "%03d", $0))" }
        let answers = followers.enumerated().map { index, node in
            (peer: PeerAddress(host: "10.0.\(index / 200).\(index % 200)", port: 1), status: SwarmStatus(node: node, pullingSince: Double(index)))
        }
        let addresses = Dictionary(uniqueKeysWithValues: answers.map { ($0.status.node!, $0.peer) })
        let puller = PeerAddress(host: "10.1.0.1", port: 1)
        for late in [1, onTime / 2, onTime] where late > 0 {
            for stripe in 0..<FollowBoard.treeFanOut {
                let layout = StripeLayout(followers: onTime, stripe: stripe)
                let feeder = layout.feeder.map { addresses[followers[$0]] }
                for node in followers[..<onTime] {
                    let before = FollowBoard.parent(
                        of: node, stripe: stripe, followers: Array(followers[..<onTime]), puller: puller, answers: answers)
                    let after = FollowBoard.parent(
                        of: node, stripe: stripe, followers: Array(followers[..<(onTime + late)]), late: late, puller: puller, answers: answers)
                    #expect(before.peer == after.peer && before.hops == after.hops, "\(node), \(late) late, stripe \(stripe)")
                }
                // The late followers take the stripe from each other, and their tree's root from the feeder.
                let lateAddresses = Set(followers[onTime..<(onTime + late)].map { addresses[$0] })
                var fedByTheOthers = 0
                for node in followers[onTime..<(onTime + late)] {
                    let parent = FollowBoard.parent(
                        of: node, stripe: stripe, followers: Array(followers[..<(onTime + late)]), late: late, puller: puller, answers: answers
                    ).peer
                    if !lateAddresses.contains(parent) {
                        fedByTheOthers += 1
                        #expect(parent == feeder ?? puller, "\(node), \(late) late, stripe \(stripe)")
                    }
                }
                #expect(fedByTheOthers == 1)
            }
        }
    }

    @Test(arguments: 1...70) func theLateFollowersTreeIsFedByAFastNodeThatFeedsLittleElse(followers: Int) {
        for leaves in 0...2 where leaves < followers {
            for stripe in 0..<FollowBoard.treeFanOut {
                let layout = StripeLayout(followers: followers, stripe: stripe, leaves: leaves)
                let feeder = layout.feeder
                // The partial owner's position is the one right after the blocks' in the heap: `full`.
                let full = followers > 1 ? (followers - 2) / FollowBoard.treeFanOut : 0
                let blocks = FollowBoard.treeFanOut * full
                guard let feeder else {
                    #expect(followers - blocks <= leaves, "only slow nodes after the blocks: \(followers) followers, \(leaves) slow")
                    continue
                }
                #expect(feeder >= blocks && feeder < followers - leaves, "\(followers) followers, \(leaves) slow, stripe \(stripe): \(feeder)")
                if followers - blocks - leaves >= 2, followers > 1 {
                    #expect(feeder != layout.follower(at: full), "\(followers) followers, stripe \(stripe): the partial owner feeds the late")
                }
            }
        }
    }

    @Test func aChunkOfABusyStripeComesFromTheIdleParentOfAnotherStripeOneAtATime() async throws {
        let followers = (0..<15).map { String(format: "f%02d", $0) }
        let puller = (peer: PeerAddress(host: "10.0.1.1", port: 1), status: SwarmStatus(node: "p", pullingSince: 1))
        let answers =
            [puller]
            + followers.enumerated().map { index, node in
                (peer: PeerAddress(host: "10.0.0.\(index)", port: 1), status: SwarmStatus(node: node, pullingSince: 1 + Double(index) / 100))
            }
        let board = FollowBoard(node: "f07", since: 1.07, topology: .tree)
        _ = await board.update(with: answers, present: [], everyone: true)
        let parents = (0..<FollowBoard.treeFanOut).map {
            FollowBoard.parent(of: "f07", stripe: $0, followers: followers, puller: puller.peer, answers: answers).peer
        }
        // A stripe whose parent holds chunks of another stripe, whose own parent has not got them.
        let (idle, busy) = try #require(
            (0..<parents.count).flatMap { idle in (0..<parents.count).map { (idle, $0) } }.first { parents[$0.0] != parents[$0.1] })
        let chunks = (0..<2).map { index in
            Manifest.Chunk(
                offset: UInt64(index) << 22, length: 1 << 22, id: Digest(bytes: [UInt8(busy), UInt8(index)] + Array(repeating: 0, count: 30)))
        }
        let holder = try #require(answers.first { $0.peer == parents[idle] })
        _ = await board.update(
            with: [(holder.peer, SwarmStatus(node: holder.status.node, pullingSince: holder.status.pullingSince, chunks: ["f": chunks]))],
            present: [], everyone: false)
        let first = try #require(await board.take(), "stripe \(busy)'s chunk from stripe \(idle)'s parent, which has nothing else to send")
        #expect(first.peer == parents[idle])
        #expect(await board.take() == nil, "the second waits: a parent sends this node one chunk at a time")
        await board.received(first.id, from: first.peer)
        #expect(await board.take()?.peer == parents[idle])
    }

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
    @Test func aChunkTheUpstreamLacksWaitsTwiceTheTimeChunksTakePerHopThenComesFromANodeThatFinished() async throws {
        let clock = ManualClock()
        let board = FollowBoard(node: "m", since: 20, grace: .seconds(1), clock: clock)
        func address(_ port: Int) -> PeerAddress { PeerAddress(host: "127.0.0.1", port: port) }
        func chunk(_ byte: UInt8) -> Manifest.Chunk {
            Manifest.Chunk(offset: UInt64(byte) * 10, length: 10, id: Digest(bytes: Array(repeating: byte, count: 32)))
        }
        func shown(by port: Int, _ node: String, since: Double?, _ chunks: [Manifest.Chunk]) -> (peer: PeerAddress, status: SwarmStatus) {
            (peer: address(port), status: SwarmStatus(node: node, pullingSince: since, chunks: chunks.isEmpty ? [:] : ["f": chunks]))
        }
        let holding = (peer: address(3), status: SwarmStatus(node: "b", manifest: Digest(bytes: Array(repeating: 9, count: 32))))
        // Puller "p" (port 1) started first, then "a" (port 2), this node, then "c" (port 4); "b" (port 3) holds the
        // revision complete. This node's upstream is "a", two hops from the puller. Chunk 1 is held by the puller and
        // by "b", chunk 2 by the puller and by "c".
        let answers = [
            shown(by: 1, "p", since: 10, [chunk(1), chunk(2)]), shown(by: 2, "a", since: 15, []), holding, shown(by: 3, "b", since: nil, [chunk(1)]),
            shown(by: 4, "c", since: 25, [chunk(2)]),
        ]
        #expect(await board.update(with: answers, present: [], everyone: true).isEmpty)
        #expect(await board.upstreamPeers == [address(2)])
        clock.advance(by: .seconds(30))
        #expect(await board.take() == nil, "no chunk came yet: the line is given the time it takes to fill")

        _ = await board.update(with: [shown(by: 2, "a", since: 15, [chunk(3)])], present: [], everyone: false)
        let first = try #require(await board.take())
        #expect(first.id == chunk(3).id && first.peer == address(2))
        clock.advance(by: .seconds(2))
        await board.received(first.id, from: first.peer)
        _ = await board.stored(first.id)

        let around = try #require(await board.take(), "32 s late, past twice the 2 s a chunk took, for each of two hops")
        #expect(around.id == chunk(1).id && around.peer == address(3), "from the node that finished")
        await board.received(around.id, from: around.peer)
        _ = await board.stored(around.id)
        #expect(await board.take() == nil, "chunk 2 is not taken from nodes still pulling: their uploads feed the line")

        _ = await board.update(with: [shown(by: 3, "b", since: 25, [chunk(4), chunk(5)])], present: [], everyone: false)
        clock.advance(by: .milliseconds(7_999))
        #expect(await board.take() == nil)
        clock.advance(by: .milliseconds(1))
        let next = try #require(await board.take())
        #expect([chunk(4).id, chunk(5).id].contains(next.id) && next.peer == address(3))
        #expect(await board.take() == nil, "one chunk at a time from around the line")
        await board.received(next.id, from: next.peer)
        #expect(try #require(await board.take()).peer == address(3))
    }
}
