import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// `manta agent --quota` as a real process with its mount, pulling from a real local hub: the least recently used
/// models nothing holds are evicted, reads through the mount count as use, an open file and a pin hold a model, a
/// model that cannot fit is refused before any byte is written, and `manta gc` works through the running agent.
@Suite(.timeLimit(.minutes(5)), .threadsOfItsOwn) struct QuotaEvictionTests {
    /// Each model is one file of this many bytes: one chunk, stored as it is.
    static let modelBytes = 1_000_000
    /// High watermark 3.42 MB (three models fit, a fourth does not), low watermark 3.04 MB (three stay).
    static let quota = 3_800_000

    /// A node under a quota beside a hub serving `acme/pinned`, `acme/m1`…`acme/m5` (one model each) and `acme/big`.
    struct QuotaNode {
        let scratch: TemporaryDirectory
        let store: String, mount: String, hubRoot: String

        init() throws {
            scratch = try TemporaryDirectory()
            (store, mount, hubRoot) = (scratch.appending("store"), scratch.appending("mnt"), scratch.appending("hub"))
            try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
            for (index, name) in ["pinned", "m1", "m2", "m3", "m4", "m5"].enumerated() {
                try Self.writeModel(at: "\(hubRoot)/acme/\(name)", bytes: QuotaEvictionTests.modelBytes, seed: index + 1)
            }
            try Self.writeModel(at: "\(hubRoot)/acme/big", bytes: 5 * QuotaEvictionTests.modelBytes, seed: 99)
        }

        static func writeModel(at folder: String, bytes: Int, seed: Int) throws {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let content = Data((0..<bytes).map { UInt8(truncatingIfNeeded: ($0 &* (2 * seed + 1)) ^ ($0 >> 8) ^ seed) })
            try content.write(to: URL(fileURLWithPath: "\(folder)/weights.bin"))
        }

        /// An agent on this node's store and mount, pulling from the hub at `endpoint`, under `quota` bytes with no
        /// periodic check (every eviction follows a pull, or `manta gc`); its log goes to the scratch folder.
        func startAgent(hub endpoint: String, quota: Int) async throws -> (Process, Int) {
            try await AgentProcessTests.startAgent(
                store: store, mount: mount, tokenFile: nil, options: ["--endpoint", endpoint, "--quota", "\(quota)", "--quota-interval", "1h"],
                errorLog: scratch.appending("agent.log"))
        }

        func run(_ arguments: [String]) async throws -> MantaProcess.Result {
            try await MantaProcess.runAwaitingExit(arguments + ["--store", store])
        }

        /// `manta pull` through the agent; the command must succeed.
        func pull(_ name: String, pinned: Bool = false, sourceLocation: SourceLocation = #_sourceLocation) async throws {
            let result = try await run(["pull", "acme/\(name)"] + (pinned ? [] : ["--no-pin"]))
            try #require(result.succeeded, "pull acme/\(name): \(result.standardError)", sourceLocation: sourceLocation)
            #expect(result.standardOutput.contains("through the agent"), sourceLocation: sourceLocation)
        }

        /// The models `manta ls` lists, run while the agent holds the store.
        func models() async throws -> Set<String> {
            let listed = try await run(["ls"])
            try #require(listed.succeeded, "\(listed.standardError)")
            return Set(
                listed.standardOutput.split(separator: "\n").compactMap { line in
                    line.hasPrefix("acme/") ? line.split(separator: " ").first.map { String($0.dropFirst("acme/".count)) } : nil
                })
        }

        /// The models left are exactly `expected`, and each reads back byte-identical to the hub's file, exported with
        /// every chunk and file hash checked. An export counts as use, so they go in `expected`'s order, least recently
        /// used first, which keeps the order the test built.
        func expectModels(_ expected: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
            #expect(try await models() == Set(expected), sourceLocation: sourceLocation)
            for name in expected {
                let out = scratch.appending("export-\(name)-\(UUID().uuidString)")
                let exported = try await run(["export", "acme/\(name)", out])
                try #require(exported.succeeded, "export acme/\(name): \(exported.standardError)", sourceLocation: sourceLocation)
                let same = try await blocking {
                    FileManager.default.contentsEqual(atPath: "\(out)/weights.bin", andPath: "\(hubRoot)/acme/\(name)/weights.bin")
                }
                #expect(same, "acme/\(name) reads back as the hub's file", sourceLocation: sourceLocation)
            }
        }

        /// Reads the model's file through the mount: the first read of it reaches the agent (later ones may come from
        /// the page cache) and counts as use.
        func readThroughMount(_ name: String) async throws -> Bool {
            let (mount, hubRoot) = (mount, hubRoot)
            return try await blocking {
                FileManager.default.contentsEqual(atPath: "\(mount)/models/acme/\(name)/weights.bin", andPath: "\(hubRoot)/acme/\(name)/weights.bin")
            }
        }

        /// Waits until the mount has let go of every closed file: the kernel releases a file after `close` returns,
        /// and the mount records a model as used when its last file is released.
        func waitUntilClosedFilesAreReleased() async throws {
            let store = store
            try await eventually("the mount released every closed file", poll: .milliseconds(100)) {
                try await blocking { try Store(root: store).pins().allSatisfy { !$0.holder.hasPrefix(Store.processHolderPrefix) } }
            }
        }

        func chunkFileCount() -> Int {
            (FileManager.default.enumerator(atPath: "\(store)/chunks")?.allObjects as? [String] ?? []).filter { $0.count > 64 }.count
        }
    }

    @Test func theAgentEvictsTheLeastRecentlyUsedModelsNothingHoldsAndRefusesWhatCannotFit() async throws {
        let node = try QuotaNode()
        let hub = HubServer(configuration: try HubServerConfiguration(root: node.hubRoot))
        try await hub.withRunning { address in
            let (agent, port) = try await node.startAgent(hub: address.endpoint, quota: Self.quota)
            defer { if agent.isRunning { agent.terminate() } }

            try await node.pull("pinned", pinned: true)
            try await node.pull("m1")
            try await node.pull("m2")
            try await node.expectModels(["pinned", "m1", "m2"])

            // m1 was pulled first, but reading it through the mount makes m2 the least recently used.
            #expect(try await node.readThroughMount("m1"))
            try await node.waitUntilClosedFilesAreReleased()
            try await node.pull("m3")
            try await node.expectModels(["pinned", "m1", "m3"])

            // A file held open through the mount keeps m1, now the least recently used: m3 goes for m4.
            let held = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(node.mount)/models/acme/m1/weights.bin"))
            try await node.pull("m4")
            try await node.expectModels(["pinned", "m1", "m4"])
            // Closing its last file counts as use (the kernel may have served the reads itself): m4 is now the oldest.
            try held.close()
            try await node.waitUntilClosedFilesAreReleased()

            // Imported beside the running agent, m5 takes the store over the high watermark; a dry run lists what would go.
            let m5 = try await node.run(["import", "\(node.hubRoot)/acme/m5", "--repo", "acme/m5", "--no-pin"])
            try #require(m5.succeeded, "\(m5.standardError)")
            let dryRun = try await node.run(["gc", "--dry-run"])
            try #require(dryRun.succeeded, "\(dryRun.standardError)")
            #expect(dryRun.standardOutput.contains("would evict acme/m4@main"), "\(dryRun.standardOutput)")
            #expect(!dryRun.standardOutput.contains("acme/m1") && !dryRun.standardOutput.contains("acme/m5"), "\(dryRun.standardOutput)")
            #expect(dryRun.standardOutput.contains("by the agent on \(node.store)/agent.sock"), "\(dryRun.standardOutput)")
            try await node.expectModels(["pinned", "m4", "m1", "m5"])
            let collected = try await node.run(["gc"])
            try #require(collected.succeeded, "\(collected.standardError)")
            #expect(collected.standardOutput.contains("evicted acme/m4@main"), "\(collected.standardOutput)")
            try await node.expectModels(["pinned", "m1", "m5"])

            // 5 MB cannot fit under a 3.8 MB quota: refused before any byte is written, naming what holds the space.
            let chunksBefore = node.chunkFileCount()
            let refused = try await node.run(["pull", "acme/big"])
            #expect(!refused.succeeded)
            #expect(refused.standardError.contains("acme/big@main needs 5000000 bytes"), "\(refused.standardError)")
            #expect(refused.standardError.contains("held by acme/pinned@main"), "\(refused.standardError)")
            #expect(hub.statistics.bytesServed(repo: try HubRepoID("acme/big"), path: "weights.bin") == 0)
            let lazy = try await node.run(["add", "acme/big"])
            #expect(!lazy.succeeded, "a lazy registration is held to the quota too")
            #expect(lazy.standardError.contains("acme/big@main needs 5000000 bytes"), "\(lazy.standardError)")
            #expect(node.chunkFileCount() == chunksBefore)
            try await node.expectModels(["pinned", "m1", "m5"])
            for name in ["pinned", "m1", "m5"] { #expect(try await node.readThroughMount(name), "acme/\(name) through the mount") }

            let metrics = try await RawMetrics.get(port: port)
            #expect(metrics.contains("manta_evictions_total 3"), "\(metrics)")
            #expect(metrics.contains("manta_evicted_bytes_total 3000000"), "\(metrics)")
            #expect(metrics.contains("manta_refused_pulls_total 2"), "\(metrics)")

            agent.terminate()
            agent.waitUntilExit()
            let verified = try await node.run(["verify"])
            #expect(verified.succeeded, "verify is clean: \(verified.standardOutput) \(verified.standardError)")
        }
    }

    @Test func theAgentEvictsOnItsOwnWhenTheStoreGrowsBesideIt() async throws {
        let node = try QuotaNode()
        let (agent, _) = try await AgentProcessTests.startAgent(
            store: node.store, tokenFile: nil, options: ["--quota", "\(Self.quota)", "--quota-interval", "200ms"],
            errorLog: node.scratch.appending("agent.log"))
        defer { if agent.isRunning { agent.terminate() } }
        // Four models imported beside the agent, unpinned: 4 MB passes the high watermark (3.42 MB); the oldest goes.
        for name in ["m1", "m2", "m3", "m4"] {
            let imported = try await node.run(["import", "\(node.hubRoot)/acme/\(name)", "--repo", "acme/\(name)", "--no-pin"])
            try #require(imported.succeeded, "\(imported.standardError)")
        }
        try await eventually("the agent evicts m1", timeout: .seconds(30), poll: .milliseconds(200)) { try await !node.models().contains("m1") }
        try await node.expectModels(["m2", "m3", "m4"])
    }
}
