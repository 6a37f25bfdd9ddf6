import Foundation
import MantaStore
import MantaTestSupport
import Testing

/// A mount with a hub source fetches again a chunk of a complete model that the store lost.
@Suite(.serialized, .threadsOfItsOwn) struct MountRefetchTests {
    static let repo = "acme/shards"

    @Test func aChunkChangedInPlaceAfterItWasServedIsQuarantinedAndFetchedAgainSoReadsStayByteIdentical() async throws {
        let folder = try Fixtures.syntheticShards()
        try await withLazyMount([Self.repo: folder]) { mount in
            let pulled = try await mount.run(["pull", Self.repo])
            #expect(pulled.status == 0, "\(pulled.standardError)")
            let file = "model-00001-of-00002.safetensors"
            let path = mount.modelFile(Self.repo, file)
            try await mount.waitFor("the pulled model in the mount", seconds: 10) { FileManager.default.fileExists(atPath: path) }
            let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(file)")))
            #expect(try await readThroughMount(path, offset: 0, count: original.count) == .success(original), "every chunk is checked and mapped now")

            let store = try await mount.hub.openStore()
            let chunk = try #require(
                try store.requireManifest(try RepoReference(parsing: Self.repo)).manifest.file(at: file)?.chunks.dropFirst().first)
            let chunkPath = try #require(store.location(of: chunk.id)).path
            let inside = Int(chunk.offset + chunk.length / 2)
            try overwriteKeepingTimes(chunkPath, at: chunk.length / 2, with: original[inside..<inside + 4096].map { $0 ^ 0x5a })
            try dropPageCaches()

            #expect(try await readThroughMount(path, offset: 0, count: original.count) == .success(original), "\(mount.log)")
            #expect(FileManager.default.fileExists(atPath: "\(mount.hub.storeRoot)/quarantine/\(chunk.id.hex)"), "the changed file was quarantined")
            #expect((try? store.read(chunk.id)) != nil, "the chunk fetched again is stored, and hashes to its id")
            #expect(mount.log.contains("fetching a chunk the store lost"), "\(mount.log)")
        }
    }
}
