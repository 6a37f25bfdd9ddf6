import Foundation
import MantaAgent
import MantaKube
import MantaPeer
import MantaTestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct ClusterAgentPartsTests {
    static let source = Replication.Source(hub: "Huggingface", repoID: "a/b", revision: "main", commit: "c1", filename: nil, totalBytes: 10)

    static func replication(_ phase: Replication.Phase, reclaim: Bool = false) -> Replication {
        var replication = Replication(metadata: ObjectMeta(name: "t.node-a"), spec: .init(torrentName: "t", nodeName: "node-a", source: source, reclaim: reclaim))
        replication.status = .init(phase: phase, bytesDone: 4, bytesTotal: 10, manifestDigest: phase == .ready ? "sha256:ab" : nil, message: "m")
        return replication
    }

    @Test func theLocalStatusFollowsThisNodesReplication() {
        let cases: [(Replication.Phase, LocalTorrentStatus.State)] = [
            (.pending, .pending), (.replicating, .replicating), (.ready, .ready), (.failed, .failed), (.reclaimed, .reclaiming),
        ]
        for (phase, state) in cases {
            let status = LocalTorrentStatus(torrent: "t", node: "node-a", replication: Self.replication(phase), torrent: nil)
            #expect(status.state == state, "\(phase)")
            #expect(status.bytesDone == 4)
        }
        #expect(LocalTorrentStatus(torrent: "t", node: "node-a", replication: Self.replication(.ready), torrent: nil).manifestDigest == "sha256:ab")
    }

    @Test func withoutAReplicaTheTorrentDecides() {
        #expect(LocalTorrentStatus(torrent: "t", node: "n", replication: nil, torrent: nil).state == .notFound)
        var torrent = Torrent(name: "t", spec: .init(hub: .init(repoID: "a/b")))
        #expect(LocalTorrentStatus(torrent: "t", node: "n", replication: nil, torrent: torrent).state == .notPlaced)
        torrent.spec.preheat = false
        torrent.status = Torrent.Status()
        torrent.status?.phase = .ready
        #expect(LocalTorrentStatus(torrent: "t", node: "n", replication: nil, torrent: torrent).state == .ready, "preheat false: loads on first read")
        torrent.status?.phase = .failed
        #expect(LocalTorrentStatus(torrent: "t", node: "n", replication: nil, torrent: torrent).state == .failed)
        #expect(
            LocalTorrentStatus(torrent: "t", node: "node-a", replication: Self.replication(.ready, reclaim: true), torrent: torrent).state == .reclaiming,
            "a replica being reclaimed is not ready to read")
    }

    @Test func peersAreTheOtherNodesPublishedAddresses() async throws {
        try await KubeTestEnvironment.with { env in
            for (node, address) in [("node-a", "10.0.0.1:8470"), ("node-b", "10.0.0.2:8470"), ("node-c", "not an address")] {
                try await NodeAgentBinding(client: env.client, nodeName: node).publish(.init(address: address))
            }
            let discovery = NodeTrackerPeerDiscovery(client: env.client, nodeName: "node-a", backoff: Backoff(initial: .milliseconds(10)), logger: quietLogger)
            let task = Task { await discovery.run() }
            defer { task.cancel() }
            await discovery.waitForSync()
            #expect(await discovery.peers() == [PeerAddress(host: "10.0.0.2", port: 8470)], "itself and unparsable addresses left out")
            try await NodeAgentBinding(client: env.client, nodeName: "node-d").publish(.init(address: "10.0.0.4:8470"))
            try await eventually("a new node's agent becomes a peer") { await discovery.peers().count == 2 }
        }
    }

    @Test(arguments: [
        (["agent", "--listen", "127.0.0.1:0", "--node-name", "n", "--peers", "127.0.0.1:9"], "--peers and --node-name exclude each other"),
        (["agent", "--listen", "0.0.0.0:7480", "--node-name", "n"], "--advertise is required"),
        (["agent", "--listen", "127.0.0.1:0", "--node-name", "n", "--advertise", "nowhere"], "--advertise 'nowhere' is not host:port"),
        (["agent", "--listen", "127.0.0.1:0", "--kubeconfig", "/x"], "need --node-name"),
        (["agent", "--listen", "127.0.0.1:0", "--node-name", "n", "--kubeconfig", "/nonexistent/kubeconfig"], "/nonexistent/kubeconfig"),
        (["wait", "--torrent", "t"], "give exactly one of --socket and --kubeconfig/--in-cluster"),
        (["wait", "--torrent", "t", "--socket", "/s", "--in-cluster"], "give exactly one of --socket and --kubeconfig/--in-cluster"),
        (["wait", "--torrent", "t", "--socket", "/s", "--timeout", "5x"], "--timeout"),
        (["wait", "--torrent", "t", "--in-cluster"], "pass --node-name or set NODE_NAME"),
    ])
    func badOptionsAreNamed(arguments: [String], expected: String) throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(arguments + (arguments[0] == "agent" ? ["--store", scratch.appending("store")] : []), environment: ["NODE_NAME": ""])
        #expect(!result.succeeded)
        #expect(result.standardError.contains(expected), "\(result.standardError)")
    }

    @Test func waitGivesUpWithTheReasonWhenNoAgentAnswers() throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(["wait", "--torrent", "t", "--socket", scratch.appending("none.sock"), "--timeout", "500ms", "--interval", "100ms"])
        #expect(!result.succeeded)
        #expect(result.standardError.contains("Torrent t was not Ready on this node within"), "\(result.standardError)")
        #expect(result.standardError.contains("last problem"), "why the agent could not be asked: \(result.standardError)")
    }
}
