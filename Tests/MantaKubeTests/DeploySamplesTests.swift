import Foundation
import MantaKube
import MantaTestSupport
import Testing
import Yams

/// The Torrent YAMLs in deploy/samples (those of the original Manta README among them) decode into the
/// Swift types and are admitted by the API server's Torrent validation unchanged.
@Suite(.timeLimit(.minutes(3)), .threadsOfItsOwn) struct DeploySamplesTests {
    static let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/samples")

    static func torrentSamples() throws -> [(file: String, yaml: String)] {
        let files = try FileManager.default.contentsOfDirectory(atPath: samples.path).filter { $0.hasPrefix("torrent-") && $0.hasSuffix(".yaml") }
        return try files.sorted().map { ($0, try String(contentsOf: samples.appendingPathComponent($0), encoding: .utf8)) }
    }

    @Test func theOriginalReadmeSamplesAreAmongTheSamples() throws {
        let files = try Self.torrentSamples().map(\.file)
        #expect(
            files.contains("torrent-sample.yaml") && files.contains("torrent-node-selector.yaml") && files.contains("torrent-reclaim-delete.yaml"))
        #expect(files.count >= 8)
    }

    @Test func everyTorrentSampleDecodesAndIsAccepted() async throws {
        let samples = try Self.torrentSamples()
        try await KubeTestEnvironment.with { env in
            for sample in samples {
                let torrent = try YAMLDecoder().decode(Torrent.self, from: sample.yaml)
                #expect(torrent.spec.hub?.repoID.isEmpty == false, "\(sample.file)")
                let created = try await env.client.create(torrent)
                #expect(created.spec.replicas ?? 0 >= 1, "\(sample.file)")
                try await env.client.delete(Torrent.self, name: created.name)
            }
        }
    }

    @Test func readmeFieldsKeepTheirMeaning() throws {
        let byFile = Dictionary(uniqueKeysWithValues: try Self.torrentSamples().map { ($0.file, $0.yaml) })
        let selector = try YAMLDecoder().decode(Torrent.self, from: try #require(byFile["torrent-node-selector.yaml"]))
        #expect(selector.spec.nodeSelector == ["zone": "zone-a"])
        let reclaim = try YAMLDecoder().decode(Torrent.self, from: try #require(byFile["torrent-reclaim-delete.yaml"]))
        #expect(reclaim.spec.reclaimPolicy == .delete)
        let file = try YAMLDecoder().decode(Torrent.self, from: try #require(byFile["torrent-single-file.yaml"]))
        #expect(file.spec.hub?.filename == "qwen2-0_5b-instruct-q5_k_m.gguf")
        let ttl = try YAMLDecoder().decode(Torrent.self, from: try #require(byFile["torrent-ttl.yaml"]))
        #expect(ttl.spec.ttlSecondsAfterReady == 0)
        let lazy = try YAMLDecoder().decode(Torrent.self, from: try #require(byFile["torrent-lazy.yaml"]))
        #expect(lazy.spec.preheat == false)
    }
}
