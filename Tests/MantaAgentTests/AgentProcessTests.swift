import Foundation
import MantaHub
import MantaPeer
import MantaStore
import MantaTestSupport
import Synchronization
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `manta agent` as a real child process: it mounts the store, serves peers on an OS-chosen port, and
/// stops cleanly on SIGTERM.
@Suite(.threadsOfItsOwn) struct AgentProcessTests {
    /// Starts the agent and returns it with the port it announced on standard output; its standard error goes to
    /// `errorLog` when given.
    static func startAgent(
        store: String, mount: String? = nil, tokenFile: String?, listen: String = "127.0.0.1:0", options: [String] = [], errorLog: String? = nil
    ) async throws -> (Process, Int) {
        let agent = try MantaProcess.process(
            ["agent", "--store", store, "--listen", listen] + (tokenFile.map { ["--token-file", $0] } ?? []) + (mount.map { ["--mount", $0] } ?? [])
                + options,
            environment: ["MANTA_TOKEN": ""]
        )
        let output = Pipe()
        agent.standardOutput = output
        if let errorLog {
            try Data().write(to: URL(fileURLWithPath: errorLog))
            agent.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorLog))
        } else {
            agent.standardError = FileHandle.nullDevice
        }
        try agent.run()
        let line = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<String, any Error>) in
            Thread {
                var collected = Data()
                while !collected.contains(UInt8(ascii: "\n")) {
                    let part = output.fileHandleForReading.availableData
                    if part.isEmpty { break }
                    collected += part
                }
                continuation.resume(returning: String(decoding: collected, as: UTF8.self))
            }.start()
        }
        guard let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) else {
            agent.terminate()
            throw AgentDidNotStart(output: line)
        }
        return (agent, port)
    }

    /// A node's folders before its agent starts: a store holding the GGUF fixture as `acme/gguf`, a mount folder and
    /// the token file of `cluster-secret`.
    struct GGUFNode {
        let scratch: TemporaryDirectory
        let store: String, mount: String, tokenFile: String
        let digest: Digest

        init() throws {
            scratch = try TemporaryDirectory()
            (store, mount, tokenFile) = (scratch.appending("store"), scratch.appending("mnt"), scratch.appending("token"))
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            try "cluster-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            let imported = try MantaProcess.run(["import", try Fixtures.gguf(), "--repo", "acme/gguf", "--store", store])
            try #require(imported.succeeded, "\(imported.standardError)")
            digest = try #require(try Store(root: store).resolve(try RepoReference(parsing: "acme/gguf")))
        }
    }

    @Test func theAgentServesPeersMountsTheStoreAndStopsCleanlyOnSIGTERM() async throws {
        let node = try GGUFNode()
        let (store, mount, tokenFile, digest) = (node.store, node.mount, node.tokenFile, node.digest)
        let (agent, port) = try await Self.startAgent(store: store, mount: mount, tokenFile: tokenFile)
        defer { if agent.isRunning { agent.terminate() } }
        let peer = PeerAddress(host: "127.0.0.1", port: port)
        let manifest = try await PeerClient(token: "cluster-secret").manifest(digest, from: peer)
        let chunk = try #require(manifest.files.first?.chunks.last)
        let bytes = try await PeerClient(token: "cluster-secret").chunk(chunk.id, length: chunk.length, from: peer)
        #expect(bytes.count == Int(chunk.length))
        await #expect(throws: PeerError.unauthorized(peer: peer.description)) {
            try await PeerClient(token: nil).manifest(digest, from: peer)
        }
        // The agent reports its port once it listens; the mount may answer a moment later.
        try await eventually("the mount shows acme/gguf") { FileManager.default.fileExists(atPath: "\(mount)/models/acme/gguf/model.gguf") }
        let served = try Data(contentsOf: URL(fileURLWithPath: "\(mount)/models/acme/gguf/model.gguf"))
        let original = try Data(contentsOf: URL(fileURLWithPath: "\(try Fixtures.gguf())/model.gguf"))
        #expect(served == original)

        let metrics = try await RawMetrics.get(port: port)
        #expect(metrics.contains("manta_store_models 1"))
        #expect(metrics.contains("manta_peer_served_bytes "))
        #expect(!metrics.contains("manta_peer_served_bytes 0\n"), "the chunk and manifest sent above are counted")

        kill(agent.processIdentifier, SIGTERM)
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        let mounts = try String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)
        #expect(!mounts.contains(" \(mount) "), "the mount is gone after SIGTERM")
    }

    @Test func theAgentStopsCleanlyOnSIGTERMWhilePeersKeepConnecting() async throws {
        let node = try GGUFNode()
        let errorLog = node.scratch.appending("agent.err")
        let (agent, port) = try await Self.startAgent(store: node.store, mount: node.mount, tokenFile: node.tokenFile, errorLog: errorLog)
        defer { if agent.isRunning { agent.terminate() } }
        // Peers connect without pause from before the signal until the agent has gone, at most 100 rounds of 20.
        let stopped = Atomic<Bool>(false)
        let connecting = Task.detached {
            var opened = 0
            for _ in 0..<100 where !stopped.load(ordering: .relaxed) {
                let connections = HalfOpenConnections()
                connections.open(
                    20, to: port, from: ["127.0.0.1"], sending: "GET /healthz HTTP/1.1\r\nHost: peer\r\n\r\n", deadline: .now + .seconds(5)
                )
                opened += connections.descriptors.count
                connections.closeAll()
            }
            return opened
        }
        try await Task.sleep(for: .milliseconds(300))
        kill(agent.processIdentifier, SIGTERM)
        agent.waitUntilExit()
        stopped.store(true, ordering: .relaxed)
        #expect(await connecting.value > 0)
        let errors = try String(contentsOfFile: errorLog, encoding: .utf8)
        #expect(agent.terminationStatus == 0, "the agent exited with \(agent.terminationStatus): \(errors.suffix(2_000))")
        #expect(!errors.contains("Fatal error"))
    }

    @Test func pullWithAnAgentRunningGoesThroughItAndTheSecondNodeTakesTheModelFromTheFirst() async throws {
        let scratch = try TemporaryDirectory()
        let size = try Fixtures.copy(try Fixtures.syntheticShards(), to: scratch.appending("hub/acme/shards"))
        let tokenFile = scratch.appending("token")
        try "cluster-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let storeA = scratch.appending("a")
            let storeB = scratch.appending("b")
            let (agentA, portA) = try await Self.startAgent(store: storeA, tokenFile: tokenFile, options: ["--endpoint", address.endpoint])
            defer { agentA.terminate() }
            let downloadRate = 20_000_000
            let (agentB, _) = try await Self.startAgent(
                store: storeB, tokenFile: tokenFile,
                options: ["--endpoint", address.endpoint, "--peers", "127.0.0.1:\(portA)", "--download-rate", "20MB/s"]
            )
            defer { agentB.terminate() }

            let first = try await MantaProcess.runAwaitingExit(["pull", "acme/shards", "--store", storeA])
            try #require(first.succeeded, "\(first.standardError)")
            #expect(first.standardOutput.contains("through the agent on \(storeA)/agent.sock"))
            #expect(hub.statistics.totalBytesServed >= size)
            hub.statistics.reset()

            let started = ContinuousClock.now
            let second = try await MantaProcess.runAwaitingExit(["pull", "acme/shards", "--store", storeB])
            let elapsed = ContinuousClock.now - started
            try #require(second.succeeded, "\(second.standardError)")
            #expect(hub.statistics.totalBytesServed == 0, "B took every chunk from A")
            #expect(elapsed >= .seconds(Double(size) / Double(downloadRate) * 0.9), "B's --download-rate held: \(elapsed) for \(size) bytes")
            let reference = try RepoReference(parsing: "acme/shards@main")
            let (_, manifest) = try Store(root: storeB).requireManifest(reference)
            #expect(manifest.logicalSize == UInt64(size))
        }
    }

    @Test func addThroughTheAgentShowsTheModelInItsMountAndTheFirstReadFetchesItFromTheHub() async throws {
        let scratch = try TemporaryDirectory()
        let repo = scratch.appending("hub/acme/shards")
        try Fixtures.copy(try Fixtures.syntheticShards(), to: repo)
        let store = scratch.appending("store")
        let mount = scratch.appending("mnt")
        let tokenFile = scratch.appending("token")
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        try "cluster-secret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let hub = HubServer(configuration: try HubServerConfiguration(root: scratch.appending("hub")))
        try await hub.withRunning { address in
            let (agent, _) = try await Self.startAgent(store: store, mount: mount, tokenFile: tokenFile, options: ["--endpoint", address.endpoint])
            defer { agent.terminate() }
            let missing = try await MantaProcess.runAwaitingExit(["add", "acme/missing", "--store", store])
            #expect(!missing.succeeded)
            #expect(missing.standardError.contains("acme/missing"), "the agent's reason reaches the command: \(missing.standardError)")
            let added = try await MantaProcess.runAwaitingExit(["add", "acme/shards", "--store", store])
            try #require(added.succeeded, "\(added.standardError)")
            #expect(added.standardOutput.contains("added acme/shards@main"))
            #expect(hub.statistics.totalBytesServed < 1 << 20, "add read headers and small files only")
            let shard = "model-00001-of-00002.safetensors"
            let same = try await blocking {
                FileManager.default.contentsEqual(atPath: "\(mount)/models/acme/shards/\(shard)", andPath: "\(repo)/\(shard)")
            }
            #expect(same, "the shard read through the agent's mount is the hub's")
            #expect(hub.statistics.bytesServed(repo: try HubRepoID("acme/shards"), path: shard) >= 20_000_000)
        }
    }

    struct AgentDidNotStart: Error, CustomStringConvertible {
        let output: String
        var description: String { "manta agent did not announce its port; it printed: '\(output)'" }
    }

    @Test func anUnreadableTokenFileIsNamed() throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run([
            "agent", "--store", scratch.appending("store"), "--listen", "127.0.0.1:0", "--token-file", scratch.appending("missing"),
        ])
        #expect(result.status != 0)
        #expect(result.standardError.contains("cannot read the token file \(scratch.appending("missing"))"))
    }
}

/// `/metrics` through a plain HTTP client.
enum RawMetrics {
    static func get(port: Int) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/metrics")!)
        return String(decoding: data, as: UTF8.self)
    }
}
