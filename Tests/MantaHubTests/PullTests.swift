import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import MantaTransfer
import Testing

@Suite struct PullTests {
    static let fixtures: [(repo: String, folder: @Sendable () throws -> String)] = [
        ("sentence-transformers/all-MiniLM-L6-v2", Fixtures.realModel),
        ("acme/synthetic", Fixtures.syntheticShards),
        ("acme/gguf", Fixtures.gguf),
    ]

    @Test(arguments: 0..<3)
    func pullThenExportIsByteIdenticalAndAgreesWithImport(fixture: Int) async throws {
        let (repo, makeFolder) = Self.fixtures[fixture]
        let folder = try makeFolder()
        try await withPullHub([repo: folder]) { hub in
            let store = try await hub.openStore()
            let summary = try await hub.pull(repo, into: store)
            #expect(!summary.upToDate)
            #expect(summary.manifest.source.kind == "huggingface")
            #expect(summary.manifest.source.repo == repo)
            #expect(summary.manifest.source.endpoint == hub.address.endpoint)
            #expect(try store.resolve(summary.reference) == summary.digest)
            #expect(try store.pins().contains { $0.manifest == summary.digest })

            let exported = hub.directory.appending("export")
            let reference = summary.reference
            try await blocking { try store.export(reference, to: exported) }
            #expect(try folderContents(exported) == folderContents(folder))

            // Pull and import cut the same files into the same chunks: dedup across both.
            let imported = try await hub.openStore(hub.directory.appending("imported"))
            let importSummary = try await blocking { try imported.importDirectory(folder, as: reference) }
            #expect(importSummary.manifest.files == summary.manifest.filesWithoutBlobIDs)
            // Each byte left the hub once, but for the rest of each 1 MiB header read.
            let headerReads = summary.manifest.files.filter { $0.scheme != .fixed }.count * ChunkPlanner.initialHeaderRead
            #expect(hub.server.statistics.totalBytesServed <= Int64(summary.manifest.logicalSize) + Int64(headerReads))
        }
    }

    @Test func secondPullOnlyChecksTheRevision() async throws {
        try await withPullHub(["acme/synthetic": try Fixtures.syntheticShards()]) { hub in
            let store = try await hub.openStore()
            let first = try await hub.pull("acme/synthetic", into: store)
            hub.server.statistics.reset()
            let second = try await hub.pull("acme/synthetic", into: store)
            #expect(second.upToDate)
            #expect(second.digest == first.digest)
            #expect(second.bytesDownloaded == 0)
            #expect(hub.server.statistics.totalBytesServed == 0)
        }
    }

    @Test func missingChunksOfAKnownCommitAreFetchedByRangeAndNothingElse() async throws {
        try await withPullHub(["acme/synthetic": try Fixtures.syntheticShards()]) { hub in
            let store = try await hub.openStore()
            let first = try await hub.pull("acme/synthetic", into: store)
            let shard = try #require(first.manifest.files.first { $0.path.hasSuffix(".safetensors") })
            let lost = [shard.chunks[1], shard.chunks[2], shard.chunks[shard.chunks.count - 1]]
            for chunk in lost {
                let location = try #require(store.location(of: chunk.id))
                try FileManager.default.removeItem(atPath: location.path)
            }
            hub.server.statistics.reset()

            let second = try await hub.pull("acme/synthetic", into: store)

            #expect(!second.upToDate)
            #expect(second.digest == first.digest)
            #expect(hub.server.statistics.totalBytesServed == Int64(lost.reduce(0) { $0 + $1.length }))
            #expect(lost.allSatisfy { store.contains($0.id) })
        }
    }

    @Test func oneFileIsPulledAloneAndLaterFilesJoinTheSameManifest() async throws {
        let folder = try Fixtures.realModel()
        try await withPullHub(["acme/real": folder]) { hub in
            let store = try await hub.openStore()
            let config = try await hub.pull("acme/real", filename: "config.json", into: store)
            #expect(config.manifest.files.map(\.path) == ["config.json"])
            let configSize = try FileManager.default.attributesOfItem(atPath: folder + "/config.json")[.size] as? Int
            #expect(hub.server.statistics.totalBytesServed == Int64(try #require(configSize)))

            let modules = try await hub.pull("acme/real", filename: "modules.json", into: store)
            #expect(modules.manifest.files.map(\.path) == ["config.json", "modules.json"])
            #expect(modules.manifest.source.commit == config.manifest.source.commit)
        }
    }

    @Test func hubChunkFetcherRejectsBytesThatDoNotHashToTheChunkID() async throws {
        try await withPullHub(["acme/gguf": try Fixtures.gguf()]) { hub in
            let store = try await hub.openStore()
            let pulled = try await hub.pull("acme/gguf", into: store)
            let file = try #require(pulled.manifest.files.first)
            let wrongID = file.chunks[1].id
            let request = ChunkRequest(id: wrongID, path: file.path, offset: file.chunks[2].offset, length: file.chunks[2].length)
            let fetcher = HubChunkFetcher(client: try hub.client())
            let other = try await hub.openStore(hub.directory.appending("other"))
            await #expect {
                try await fetcher.fetch([request], source: pulled.manifest.source, into: other, priority: .read) { _ in }
            } throws: { error in
                guard case .chunkMismatch(_, let path, let offset, let expected, _) = error as? PullError else { return false }
                return path == file.path && offset == request.offset && expected == wrongID
            }
            #expect(chunkFiles(in: other).isEmpty)
        }
    }

    @Test func hubChunkFetcherRefusesManifestsFromElsewhere() async throws {
        try await withPullHub([:]) { hub in
            let store = try await hub.openStore()
            let source = Manifest.Source(kind: "local", repo: "acme/x", revision: "main", commit: String(repeating: "a", count: 40))
            await #expect(throws: PullError.unsupportedSource(kind: "local", repo: "acme/x")) {
                try await HubChunkFetcher(client: try hub.client()).fetch([], source: source, into: store, priority: .read) { _ in }
            }
        }
    }
}
