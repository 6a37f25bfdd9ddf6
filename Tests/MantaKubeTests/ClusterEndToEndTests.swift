import Foundation
import MantaAgent
import MantaHub
import MantaKube
import MantaStore
import MantaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The whole system on one machine: the test API server, the controller (in this process), a hub server
/// with two models that share a file, and three `manta agent` processes with real stores, joined to the
/// cluster with `--node-name` and a kubeconfig. Agents are separate processes so that each owns its store
/// as on a node, and the CLI options the DaemonSet uses are the ones tested.
@Suite(.serialized, .timeLimit(.minutes(5)), .threadsOfItsOwn) struct ClusterEndToEndTests {
    static let nodes = ["node-a", "node-b", "node-c"]

    @Test func torrentsReplicateScaleThroughPeersAndReclaimOnlyUnsharedChunks() async throws {
        try await Cluster.with { cluster in
            // Two replicas: two nodes pull it from the hub, the third is not used.
            try await cluster.create(Torrent(name: "base", spec: .init(hub: .init(repoID: "acme/base"), replicas: 2, reclaimPolicy: .delete)))
            let ready = try await cluster.harness.waitForTorrent("base", "2 ready replicas") {
                $0.status?.phase == .ready && $0.status?.readyReplicas == 2
            }
            let placed = try await cluster.harness.nodes(of: "base")
            #expect(placed.count == 2)
            let idle = try #require(Self.nodes.first { !placed.contains($0) })
            #expect(cluster.references(on: idle).isEmpty, "the third node holds nothing")
            let digest = try #require(ready.status?.manifestDigest)
            for node in placed {
                #expect(cluster.references(on: node) == ["acme/base@main"])
                #expect(try await cluster.replication("base", on: node).status?.manifestDigest == digest, "every node built the same manifest")
            }

            // `manta wait` on the idle node holds until the model is there; a Torrent that does not exist times out.
            let waiting = cluster.wait(torrent: "base", on: idle, timeout: "180s")
            let missing = cluster.wait(torrent: "absent", on: idle, timeout: "1s")

            // Three replicas: the third node fetches from the other two, not from the hub.
            let hubBytesBefore = cluster.hub.statistics.totalBytesServed
            try await cluster.harness.client.modify(Torrent.self, name: "base") { torrent in
                torrent.spec.replicas = 3
                return true
            }
            _ = try await cluster.harness.waitForTorrent("base", "3 ready replicas") { $0.status?.readyReplicas == 3 && $0.status?.phase == .ready }
            let modelBytes = try #require(ready.status?.repo?.totalBytes)
            let hubBytes = cluster.hub.statistics.totalBytesServed - hubBytesBefore
            #expect(
                hubBytes < modelBytes / 10, "the third replica came from its peers, found through their NodeTrackers (hub sent \(hubBytes) bytes)")

            let waited = try await waiting.value
            #expect(waited.status == 0, "manta wait: \(waited.standardError)")
            #expect(waited.standardOutput.contains("base is Ready on node \(idle)"))
            let gaveUp = try await missing.value
            #expect(gaveUp.status != 0)
            #expect(gaveUp.standardError.contains("Torrent absent was not Ready on this node within"), "\(gaveUp.standardError)")
            #expect(gaveUp.standardError.contains("there is no Torrent named absent"), "\(gaveUp.standardError)")

            // A second model sharing base's file; deleting it with reclaimPolicy Delete frees only its own chunks.
            try await cluster.create(Torrent(name: "extended", spec: .init(hub: .init(repoID: "acme/extended"), replicas: 3, reclaimPolicy: .delete)))
            let extended = try await cluster.harness.waitForTorrent("extended", "3 ready replicas") {
                $0.status?.phase == .ready && $0.status?.readyReplicas == 3
            }
            let baseChunks = try cluster.chunkIDs(of: digest, on: idle)
            let extendedChunks = try cluster.chunkIDs(of: try #require(extended.status?.manifestDigest), on: idle)
            let shared = baseChunks.intersection(extendedChunks)
            let unshared = extendedChunks.subtracting(baseChunks)
            try #require(!shared.isEmpty && !unshared.isEmpty, "the fixtures share a file and differ in another")

            try await cluster.harness.client.delete(Torrent.self, name: "extended")
            try await cluster.harness.waitForGone("extended")
            for node in Self.nodes {
                #expect(cluster.references(on: node) == ["acme/base@main"], "\(node) keeps base and drops extended")
                #expect(shared.allSatisfy { cluster.hasChunk($0, on: node) }, "\(node) keeps the chunks base still uses")
                #expect(!unshared.contains { cluster.hasChunk($0, on: node) }, "\(node) freed the chunks only extended used")
            }
            #expect(try await cluster.harness.torrent("base")?.status?.phase == .ready)
        }
    }
}

/// The running system of `ClusterEndToEndTests`.
struct Cluster: Sendable {
    let harness: ControllerHarness
    let hub: HubServer
    let scratch: String

    func store(_ node: String) -> String { "\(scratch)/\(node)/store" }
    func socket(_ node: String) -> String { "\(scratch)/\(node)/agent.sock" }

    static func with(_ body: @Sendable (Cluster) async throws -> Void) async throws {
        let scratch = try TemporaryDirectory()
        try makeRepositories(in: scratch.appending("hub"))
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let resolver = HubRevisionResolver(client: HubClient(configuration: try HubClientConfiguration(endpoint: address.endpoint)))
            try await ControllerHarness.with(resolver: resolver) { harness in
                let kubeconfig = scratch.appending("kubeconfig")
                try Self.kubeconfig(port: harness.env.port).write(toFile: kubeconfig, atomically: true, encoding: .utf8)
                let agents = Locked<[Process]>([])
                do {
                    for node in ClusterEndToEndTests.nodes {
                        // Every agent listens on loopback: that is each Node's address, so the agents accept one another as peers.
                        try await harness.client.createNode(Node(name: node, addresses: [.init(type: "InternalIP", address: "127.0.0.1")]))
                        let agent = try startAgent(node, in: scratch.appending(node), kubeconfig: kubeconfig, hub: address.endpoint)
                        agents.mutate { $0.append(agent) }
                    }
                    try await eventually("every agent published its NodeTracker with an address") {
                        let trackers = try await harness.client.list(NodeTracker.self).items
                        return trackers.filter { $0.status?.address != nil && ($0.status?.capacityBytes ?? 0) > 0 }.count
                            == ClusterEndToEndTests.nodes.count
                    }
                    try await body(Cluster(harness: harness, hub: hub, scratch: scratch.path))
                } catch {
                    await stop(agents.value)
                    printAgentLogs(scratch.path)
                    throw error
                }
                await stop(agents.value)
            }
        }
    }

    /// `manta agent` for one node, as the DaemonSet runs it, logging to `<folder>/agent.log`.
    static func startAgent(_ node: String, in folder: String, kubeconfig: String, hub: String) throws -> Process {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let agent = try MantaProcess.process(
            [
                "agent", "--store", "\(folder)/store", "--listen", "127.0.0.1:0", "--node-name", node, "--kubeconfig", kubeconfig,
                "--socket", "\(folder)/agent.sock",
            ],
            environment: ["HF_ENDPOINT": hub, "HF_TOKEN": ""])
        agent.standardOutput = FileHandle.nullDevice
        guard FileManager.default.createFile(atPath: "\(folder)/agent.log", contents: nil) else {
            throw TestFailure("cannot create \(folder)/agent.log")
        }
        agent.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: "\(folder)/agent.log"))
        try agent.run()
        return agent
    }

    /// Two repositories: `acme/base` (the GGUF fixture) and `acme/extended` (the same file plus one of its own).
    static func makeRepositories(in root: String) throws {
        let files = FileManager.default
        for repo in ["acme/base", "acme/extended"] {
            try files.createDirectory(atPath: "\(root)/\(repo)", withIntermediateDirectories: true)
            try files.copyItem(atPath: "\(try Fixtures.gguf())/model.gguf", toPath: "\(root)/\(repo)/model.gguf")
        }
        var generator = SystemRandomNumberGenerator()
        let own = (0..<(3 << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(own).write(to: URL(fileURLWithPath: "\(root)/acme/extended/adapter.bin"))
    }

    static func kubeconfig(port: Int) -> String {
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster:
            server: http://127.0.0.1:\(port)
        users:
        - name: test
          user:
            token: test-token
        contexts:
        - name: test
          context:
            cluster: test
            user: test
        current-context: test
        """
    }

    /// SIGTERM, then SIGKILL for an agent still running 10 s later; waits on a thread of its own.
    static func stop(_ agents: [Process]) async {
        let pids = agents.map(\.processIdentifier)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread {
                for pid in pids { kill(pid, SIGTERM) }
                for agent in agents where !agent.waitForExit(within: .seconds(10)) { kill(agent.processIdentifier, SIGKILL) }
                continuation.resume()
            }.start()
        }
    }

    func create(_ torrent: Torrent) async throws {
        _ = try await harness.client.create(torrent)
    }

    func replication(_ torrent: String, on node: String) async throws -> Replication {
        try await harness.client.get(Replication.self, name: Replication.name(torrent: torrent, node: node))
    }

    /// `manta wait` against the node's agent socket, run to its end off the cooperative pool.
    func wait(torrent: String, on node: String, timeout: String) -> Task<MantaProcess.Result, any Error> {
        let arguments = ["wait", "--torrent", torrent, "--socket", socket(node), "--timeout", timeout, "--interval", "200ms"]
        return Task { try await MantaProcess.runAwaitingExit(arguments) }
    }

    // MARK: Looking into a node's store (files only: opening the store would hold the lock its agent's GC needs)

    func references(on node: String) -> [String] {
        let refs = "\(store(node))/refs"
        var found: [String] = []
        for organization in (try? FileManager.default.contentsOfDirectory(atPath: refs)) ?? [] {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: "\(refs)/\(organization)")) ?? [] {
                for revision in (try? FileManager.default.contentsOfDirectory(atPath: "\(refs)/\(organization)/\(name)")) ?? []
                where !revision.hasPrefix("tmp-") {
                    found.append("\(organization)/\(name)@\(revision)")
                }
            }
        }
        return found.sorted()
    }

    func chunkIDs(of digest: String, on node: String) throws -> Set<String> {
        let hex = digest.replacingOccurrences(of: "sha256:", with: "")
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: "\(store(node))/manifests/\(hex).json")))
        return Set(manifest.chunkIDs.map(\.hex))
    }

    func hasChunk(_ hex: String, on node: String) -> Bool {
        let path = "\(store(node))/chunks/\(hex.prefix(2))/\(hex)"
        return ChunkEncoding.allCases.contains { FileManager.default.fileExists(atPath: path + $0.suffix) }
    }

    static func printAgentLogs(_ scratch: String) {
        for node in ClusterEndToEndTests.nodes {
            let log = (try? String(contentsOfFile: "\(scratch)/\(node)/agent.log", encoding: .utf8)) ?? ""
            print("--- \(node) agent log (last lines) ---\n" + log.split(separator: "\n").suffix(30).joined(separator: "\n"))
        }
    }
}
