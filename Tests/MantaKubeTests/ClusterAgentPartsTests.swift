import Foundation
import MantaAgent
import MantaKube
import MantaPeer
import MantaTestSupport
import MantaTransfer
import Testing

@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct ClusterAgentPartsTests {
    static let source = Replication.Source(hub: "Huggingface", repoID: "a/b", revision: "main", commit: "c1", filename: nil, totalBytes: 10)

    static func replication(_ phase: Replication.Phase, reclaim: Bool = false) -> Replication {
        var replication = Replication(
            metadata: ObjectMeta(name: "t.node-a"), spec: .init(torrentName: "t", nodeName: "node-a", source: source, reclaim: reclaim))
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
        let unregistered = LocalTorrentStatus(torrent: "t", node: "n", replication: nil, torrent: torrent)
        #expect(unregistered.state == .notPlaced, "preheat false: only a node with a lazy registration can read it")
        #expect(unregistered.torrentPhase == .ready)
        torrent.status?.phase = .failed
        #expect(LocalTorrentStatus(torrent: "t", node: "n", replication: nil, torrent: torrent).state == .failed)
        #expect(
            LocalTorrentStatus(torrent: "t", node: "node-a", replication: Self.replication(.ready, reclaim: true), torrent: torrent).state
                == .reclaiming,
            "a replica being reclaimed is not ready to read")
    }

    @Test func peersAreTheOtherNodesPublishedAddresses() async throws {
        try await KubeTestEnvironment.with { env in
            for (node, ip) in [("node-a", "10.0.0.1"), ("node-b", "10.0.0.2"), ("node-c", "10.0.0.3")] {
                try await env.client.createNode(Node(name: node, addresses: [.init(type: "InternalIP", address: ip)]))
            }
            for (node, address) in [("node-a", "10.0.0.1:8470"), ("node-b", "10.0.0.2:8470"), ("node-c", "not an address")] {
                try await NodeAgentBinding(client: env.client, nodeName: node).publish(.init(address: address))
            }
            let discovery = NodeTrackerPeerDiscovery(
                client: env.client, nodeName: "node-a", backoff: Backoff(initial: .milliseconds(10)), logger: quietLogger)
            let task = Task { await discovery.run() }
            defer { task.cancel() }
            await discovery.waitForSync()
            #expect(await discovery.peers() == [PeerAddress(host: "10.0.0.2", port: 8470)], "itself and unparsable addresses left out")
            // An agent in the pod network publishes its pod IP, which lies in its Node's pod CIDR.
            try await env.client.createNode(Node(name: "node-d", podCIDRs: ["10.244.4.0/24"]))
            try await NodeAgentBinding(client: env.client, nodeName: "node-d").publish(.init(address: "10.244.4.17:8470"))
            try await eventually("a new node's agent becomes a peer") { await discovery.peers().count == 2 }
        }
    }

    @Test func aNodeTrackerIsAPeerOnlyForAnExistingNodeAtOneOfThatNodesAddresses() async throws {
        try await KubeTestEnvironment.with { env in
            try await env.client.createNode(
                Node(name: "node-b", addresses: [.init(type: "InternalIP", address: "10.0.0.2")], podCIDRs: ["10.244.2.0/24"]))
            try await env.client.createNode(Node(name: "node-c", addresses: [.init(type: "InternalIP", address: "fd00::3")]))
            let trackers = [
                ("node-b", "10.0.0.2:8470"),  // the Node's own address
                ("node-c", "[fd00:0::3]:8470"),  // the same IPv6 address, spelt another way
                ("ghost", "10.0.0.9:8470"),  // no Node of that name: a tracker anyone could have written
                ("node-b-elsewhere", "10.0.0.2:8470"),  // no Node either, even at a real node's address
            ]
            for (node, address) in trackers {
                try await NodeAgentBinding(client: env.client, nodeName: node).publish(.init(address: address))
            }
            // Named after a real node, at its address, but claiming in its spec to be another node's.
            try await env.client.createNode(Node(name: "node-e", addresses: [.init(type: "InternalIP", address: "10.0.0.5")]))
            var forged = NodeTracker(nodeName: "node-e")
            forged.spec = .init(nodeName: "node-b")
            _ = try await env.client.create(forged)
            _ = try await env.client.modify(NodeTracker.self, name: "node-e", status: true) { tracker in
                tracker.status = .init(address: "10.0.0.5:8470")
                return true
            }
            let discovery = NodeTrackerPeerDiscovery(
                client: env.client, nodeName: "node-a", backoff: Backoff(initial: .milliseconds(10)), logger: quietLogger)
            let task = Task { await discovery.run() }
            defer { task.cancel() }
            await discovery.waitForSync()
            let expected = [PeerAddress(host: "10.0.0.2", port: 8470), try #require(PeerAddress(parsing: "[fd00:0::3]:8470"))]
            #expect(await discovery.peers() == expected)

            // node-b's tracker now names a host outside the Node's addresses and pod CIDR: the cluster token would go
            // wherever it points, so it is not used.
            try await NodeAgentBinding(client: env.client, nodeName: "node-b").publish(.init(address: "203.0.113.5:8470"))
            try await eventually("a tracker pointing away from its Node is dropped") { await discovery.peers() == [expected[1]] }
            try await NodeAgentBinding(client: env.client, nodeName: "node-b").publish(.init(address: "10.244.2.9:8470"))
            try await eventually("an address in the Node's pod CIDR is used") { await discovery.peers().count == 2 }
            try await env.client.delete(Node.self, name: "node-c")
            try await eventually("a deleted Node's tracker is dropped") {
                await discovery.peers() == [PeerAddress(host: "10.244.2.9", port: 8470)]
            }
        }
    }

    @Test func nodeAddressesAndPodRangesAreMatchedAsIPAddresses() {
        let node = Node(
            name: "n", addresses: [.init(type: "Hostname", address: "gpu-7"), .init(type: "InternalIP", address: "10.1.2.3")],
            podCIDRs: ["10.244.7.0/23", "fd00:7::/64"])
        for host in ["gpu-7", "10.1.2.3", "10.244.6.1", "10.244.7.255", "fd00:7::1", "fd00:7:0:0:ffff::9"] {
            #expect(NodeTrackerPeerDiscovery.vouches(node, forHost: host), "\(host)")
        }
        for host in ["gpu-8", "10.1.2.4", "10.244.8.0", "10.244.5.255", "fd00:8::1", "", "10.244.7.0/23"] {
            #expect(!NodeTrackerPeerDiscovery.vouches(node, forHost: host), "\(host)")
        }
        #expect(
            !NodeTrackerPeerDiscovery.vouches(Node(name: "m", podCIDRs: ["10.0.0.0/33", "nonsense"]), forHost: "10.0.0.1"),
            "malformed ranges hold nothing")
    }

    @Test(arguments: [
        (["agent", "--listen", "127.0.0.1:0", "--node-name", "n", "--peers", "127.0.0.1:9"], "--peers and --node-name exclude each other"),
        (["agent", "--listen", "0.0.0.0:7480", "--node-name", "n"], "--advertise is required"),
        (["agent", "--listen", "127.0.0.1:0", "--node-name", "n", "--advertise", "nowhere"], "--advertise 'nowhere' is not host:port"),
        (["agent", "--listen", "127.0.0.1:0", "--kubeconfig", "/x"], "need --node-name"),
        (["agent", "--listen", "127.0.0.1:0", "--node-name", "n", "--kubeconfig", "/nonexistent/kubeconfig"], "/nonexistent/kubeconfig"),
        (["wait", "--torrent", "t", "--timeout", "300ms", "--interval", "100ms"], "was not Ready on this node"),
        (["wait", "--torrent", "t", "--socket", "/s", "--in-cluster"], "give at most one of --socket and --kubeconfig/--in-cluster"),
        (["wait", "--torrent", "t", "--socket", "/s", "--timeout", "5x"], "--timeout"),
        (["wait", "--torrent", "t", "--in-cluster"], "pass --node-name or set NODE_NAME"),
    ])
    func badOptionsAreNamed(arguments: [String], expected: String) throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(
            arguments + (arguments[0] == "agent" ? ["--store", scratch.appending("store")] : []), environment: ["NODE_NAME": ""])
        #expect(!result.succeeded)
        #expect(result.standardError.contains(expected), "\(result.standardError)")
    }

    @Test func waitGivesUpWithTheReasonWhenNoAgentAnswers() throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run([
            "wait", "--torrent", "t", "--socket", scratch.appending("none.sock"), "--timeout", "500ms", "--interval", "100ms",
        ])
        #expect(!result.succeeded)
        #expect(result.standardError.contains("Torrent t was not Ready on this node within"), "\(result.standardError)")
        #expect(result.standardError.contains("last problem"), "why the agent could not be asked: \(result.standardError)")
    }
}
