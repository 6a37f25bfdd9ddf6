import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// A model added lazily (`manta add`) to an agent whose peer holds it complete is read through the mount from the
/// peer, the hub sending none of its bytes; once the peer is gone, the reads left go to the hub.
@Suite(.timeLimit(.minutes(5)), .threadsOfItsOwn) struct LazyPeerReadTests {
    @Test func aLazilyAddedModelIsReadFromThePeerHoldingItAndFromTheHubOnceThePeerIsGone() async throws {
        let scratch = try TemporaryDirectory()
        let repo = scratch.appending("hub/acme/shards")
        try Fixtures.copy(try Fixtures.syntheticShards(), to: repo)
        let storeA = scratch.appending("a")
        let storeB = scratch.appending("b")
        let mount = scratch.appending("mnt")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let (agentA, portA) = try await AgentProcessTests.startAgent(
                store: storeA, tokenFile: nil, options: ["--endpoint", address.endpoint], errorLog: scratch.appending("a.log"))
            defer { if agentA.isRunning { agentA.terminate() } }
            let (agentB, _) = try await AgentProcessTests.startAgent(
                store: storeB, mount: mount, tokenFile: nil, options: ["--endpoint", address.endpoint, "--peers", "127.0.0.1:\(portA)"],
                errorLog: scratch.appending("b.log"))
            defer { if agentB.isRunning { agentB.terminate() } }

            let pulled = try await MantaProcess.runAwaitingExit(["pull", "acme/shards", "--store", storeA])
            try #require(pulled.succeeded, "\(pulled.standardError)")
            let added = try await MantaProcess.runAwaitingExit(["add", "acme/shards", "--store", storeB])
            try #require(added.succeeded, "\(added.standardError)")
            hub.statistics.reset()

            let first = "model-00001-of-00002.safetensors"
            let second = "model-00002-of-00002.safetensors"
            let fromPeer = try FileManager.default.contentsOfDirectory(atPath: repo).filter { $0 != second }.sorted()
            for file in fromPeer {
                #expect(try await Self.readsAsTheHubsFile(file, mount: mount, repo: repo), "\(file) read through B's mount")
            }
            #expect(hub.statistics.totalBytesServed == 0, "every lazily read chunk came from A")

            // Killed, as a node that crashes: a graceful stop would wait for B's idle connections to it.
            kill(agentA.processIdentifier, SIGKILL)
            agentA.waitUntilExit()
            #expect(try await Self.readsAsTheHubsFile(second, mount: mount, repo: repo), "\(second) read through B's mount with A gone")
            #expect(hub.statistics.bytesServed(repo: try HubRepoID("acme/shards"), path: second) >= 20_000_000, "A gone, the hub gave the rest")
            #expect(hub.statistics.bytesServed(repo: try HubRepoID("acme/shards"), path: first) == 0)
        }
    }

    /// Reads the file through the mount (every chunk reaching the agent: nothing of it was read before).
    static func readsAsTheHubsFile(_ file: String, mount: String, repo: String) async throws -> Bool {
        try await blocking { FileManager.default.contentsEqual(atPath: "\(mount)/models/acme/shards/\(file)", andPath: "\(repo)/\(file)") }
    }
}
