import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// The mount's passthrough copies under `manta agent --quota`, with the agent's real mount and a real local hub: the
/// copies count against the quota (and show in `manta du` and the metrics), the copies no file is open on go before
/// any model, and a file open through passthrough keeps reading byte-identical while the quota collects around it.
@Suite(.timeLimit(.minutes(5))) struct PassthroughQuotaTests {
    /// High watermark 5.4 MB, low 4.8 MB: three 1 MB models and their three copies pass it.
    static let quota = 6_000_000

    @Test func copiesCountAgainstTheQuotaAndGoBeforeAnyModelWhileAnOpenFileKeepsItsCopy() async throws {
        let node = try QuotaEvictionTests.QuotaNode()
        let copies = "\(node.store)/passthrough"
        let hub = HubServer(configuration: try HubServerConfiguration(root: node.hubRoot))
        try await hub.withRunning { address in
            let (agent, port) = try await node.startAgent(hub: address.endpoint, quota: Self.quota)
            defer { if agent.isRunning { agent.terminate() } }
            for name in ["m1", "m2", "m3"] { try await node.pull(name) }
            // The first open of each file builds its copy.
            for name in ["m1", "m2", "m3"] { #expect(try await node.readThroughMount(name)) }
            let digest = try Dictionary(
                uniqueKeysWithValues: ["m1", "m2", "m3", "m4"].map { name in
                    (name, SHA256Hasher.hash(Array(try Data(contentsOf: URL(fileURLWithPath: "\(node.hubRoot)/acme/\(name)/weights.bin")))).hex)
                })
            try await Self.waitForCopies(["m1", "m2", "m3"].map { digest[$0]! }, in: copies)

            // Opened again now that its copy exists, m1 is read by the kernel from the copy, and stays open.
            let original = try Data(contentsOf: URL(fileURLWithPath: "\(node.hubRoot)/acme/m1/weights.bin"))
            let held = try FileHandle(forReadingFrom: URL(fileURLWithPath: "\(node.mount)/models/acme/m1/weights.bin"))
            defer { try? held.close() }
            let readHeld = {
                try held.seek(toOffset: 0)
                return try held.readToEnd()
            }
            #expect(try readHeld() == original)

            // Counted: `manta du` and the metrics show the copies' bytes apart from the chunks'.
            let usage = try await node.run(["du"])
            try #require(usage.succeeded, "\(usage.standardError)")
            let line = try #require(usage.standardOutput.split(separator: "\n").first { $0.hasPrefix("passthrough") }, "\(usage.standardOutput)")
            let copyBytes = try #require(line.split(separator: "(").dropFirst().first?.split(separator: " ").first.flatMap { Int($0) }, "\(line)")
            #expect(copyBytes >= 3 * QuotaEvictionTests.modelBytes && line.contains("in 3 copies"), "\(line)")
            let metrics = try await RawMetrics.get(port: port)
            let gauge = metrics.split(separator: "\n").first { $0.hasPrefix("manta_store_passthrough_bytes ") }
            #expect(gauge.flatMap { Double($0.split(separator: " ")[1]) } == Double(copyBytes), "\(metrics)")

            // 3 MB of chunks and 3 MB of copies pass the high watermark: the copies no file is open on go, no model.
            let first = try await node.run(["gc"])
            try #require(first.succeeded, "\(first.standardError)")
            #expect(first.standardOutput.contains("deleted passthrough copy sha256:\(digest["m2"]!)"), "\(first.standardOutput)")
            #expect(first.standardOutput.contains("deleted passthrough copy sha256:\(digest["m3"]!)"), "\(first.standardOutput)")
            #expect(!first.standardOutput.contains("evicted"), "\(first.standardOutput)")
            #expect(FileManager.default.fileExists(atPath: "\(copies)/\(digest["m1"]!)"), "the open file's copy stays")
            #expect(!FileManager.default.fileExists(atPath: "\(copies)/\(digest["m2"]!)"))
            #expect(try readHeld() == original)
            #expect(try await node.models() == ["m1", "m2", "m3"])

            // Over again with a fourth model and two copies rebuilt on their next open: the copies go first, then
            // the least recently used model nothing holds (m1 is open).
            try await node.pull("m4")
            for name in ["m2", "m4"] { #expect(try await node.readThroughMount(name)) }
            try await Self.waitForCopies([digest["m2"]!, digest["m4"]!], in: copies)
            let second = try await node.run(["gc"])
            try #require(second.succeeded, "\(second.standardError)")
            let lines = second.standardOutput.split(separator: "\n")
            let copyLines = lines.indices.filter { lines[$0].hasPrefix("deleted passthrough copy") }
            let evictions = lines.indices.filter { lines[$0].hasPrefix("evicted") }
            #expect(copyLines.count == 2 && evictions.count == 1, "\(second.standardOutput)")
            #expect(copyLines.allSatisfy { copy in evictions.allSatisfy { copy < $0 } }, "\(second.standardOutput)")
            #expect(second.standardOutput.contains("evicted acme/m3@main"), "\(second.standardOutput)")
            #expect(FileManager.default.fileExists(atPath: "\(copies)/\(digest["m1"]!)"), "the open file's copy stays")
            #expect(try readHeld() == original)

            // Once closed, a file whose copy went reads byte-identical again (the chunk path, then a new copy).
            for name in ["m1", "m2", "m4"] { #expect(try await node.readThroughMount(name), "acme/\(name)") }
        }
    }

    /// Waits (at most 60 s) until each digest has a sealed copy.
    static func waitForCopies(_ digests: [String], in directory: String) async throws {
        for _ in 0..<1200 {
            let names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            if digests.allSatisfy({ names.contains($0) && names.contains("\($0).seal") }) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("passthrough copies were not built within 60 s: \(digests)")
    }
}
