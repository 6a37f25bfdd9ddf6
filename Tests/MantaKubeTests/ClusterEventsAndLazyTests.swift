import Foundation
import MantaKube
import MantaTestSupport
import Testing

/// Real agents (as in `ClusterEndToEndTests`): the Events they post on Torrents, and `preheat: false`
/// registered on every node.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ClusterEventsAndLazyTests {
    static func agentEvents(about torrent: String, _ cluster: Cluster) async throws -> [Event] {
        try await cluster.harness.client.list(Event.self, namespace: "default").items.filter {
            $0.involvedObject.name == torrent && $0.source?.component == "manta-agent"
        }
    }

    @Test func agentsPostPullEventsAndRegisterALazyTorrentOnEveryNode() async throws {
        try await Cluster.with { cluster in
            try await cluster.create(Torrent(name: "base", spec: .init(hub: .init(repoID: "acme/base"), replicas: 1)))
            let ready = try await cluster.harness.waitForTorrent("base", "Ready") { $0.status?.phase == .ready }
            let node = try #require(try await cluster.harness.nodes(of: "base").first)
            var events: [Event] = []
            try await eventually("the agent posted PullStarted and Pulled") {
                events = try await Self.agentEvents(about: "base", cluster)
                return Set(events.compactMap(\.reason)).isSuperset(of: ["PullStarted", "Pulled"])
            }
            let pulled = try #require(events.first { $0.reason == "Pulled" })
            let message = pulled.message ?? ""
            #expect(message.hasPrefix("node \(node): pulled acme/base@main in "), "\(message)")
            #expect(message.contains(" 0 bytes from peers, "), "the only replica came from the hub: \(message)")
            #expect(!message.contains(" 0 bytes from the hub"), "\(message)")
            #expect(pulled.type == "Normal")
            #expect(pulled.source?.host == node)
            #expect(pulled.involvedObject.kind == "Torrent" && pulled.involvedObject.uid == ready.metadata.uid)
            let started = try #require(events.first { $0.reason == "PullStarted" })
            #expect(started.message?.hasPrefix("node \(node): pulling acme/base@main") == true, "\(started.message ?? "")")

            // A second replica comes from the first: its Pulled Event says so.
            _ = try await cluster.harness.client.mergePatch(Torrent.self, name: "base", patch: ["spec": ["replicas": 2]])
            _ = try await cluster.harness.waitForTorrent("base", "2 ready") { $0.status?.readyReplicas == 2 }
            let second = try #require(try await cluster.harness.nodes(of: "base").first { $0 != node })
            var fromPeers: Event?
            try await eventually("\(second) posted Pulled") {
                fromPeers = try await Self.agentEvents(about: "base", cluster).first { $0.reason == "Pulled" && $0.source?.host == second }
                return fromPeers != nil
            }
            let peerMessage = fromPeers?.message ?? ""
            #expect(!peerMessage.contains(" 0 bytes from peers"), "\(peerMessage)")

            // preheat: false: every node registers the model from its metadata; nothing is pulled.
            try await cluster.create(Torrent(name: "lazy", spec: .init(hub: .init(repoID: "acme/extended"), preheat: false, reclaimPolicy: .delete)))
            let registered = try await cluster.harness.waitForTorrent("lazy", "registered on all three nodes") {
                $0.status?.phase == .ready && $0.status?.readyReplicas == 3
            }
            #expect(registered.status?.conditions?[type: "Ready"]?.reason == "Registered")
            for node in ClusterEndToEndTests.nodes {
                #expect(
                    FileManager.default.fileExists(atPath: "\(cluster.store(node))/pending/refs/acme/extended/main"),
                    "\(node) holds the registration")
                #expect(!cluster.references(on: node).contains("acme/extended@main"), "\(node) did not pull it")
                #expect(try await cluster.replication("lazy", on: node).status?.message == "registered lazily: the model loads on first read")
            }
            try await eventually("each node posted Registered") {
                let hosts = try await Self.agentEvents(about: "lazy", cluster).filter { $0.reason == "Registered" }.compactMap(\.source?.host)
                return Set(hosts) == Set(ClusterEndToEndTests.nodes)
            }
            let waited = try await cluster.wait(torrent: "lazy", on: ClusterEndToEndTests.nodes[0], timeout: "30s").value
            #expect(waited.status == 0, "manta wait treats a registration as ready: \(waited.standardError)")

            // reclaimPolicy: Delete: each node forgets the registration and says so.
            try await cluster.harness.client.delete(Torrent.self, name: "lazy")
            try await cluster.harness.waitForGone("lazy")
            for node in ClusterEndToEndTests.nodes {
                #expect(!FileManager.default.fileExists(atPath: "\(cluster.store(node))/pending/refs/acme/extended/main"), "\(node) forgot it")
            }
            let reclaimed = try await Self.agentEvents(about: "lazy", cluster).filter { $0.reason == "Reclaimed" }.compactMap(\.source?.host)
            #expect(Set(reclaimed) == Set(ClusterEndToEndTests.nodes))
        }
    }
}
