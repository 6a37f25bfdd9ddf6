import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

/// A pull whose file fails its whole-file check drops the chunks it wrote, unless another writer could count on them.
@Suite(.threadsOfItsOwn) struct DiscardTests {
    /// Stores two chunks, as a failed file's, and returns their ids.
    static func storeFailedFileChunks(in store: Store) throws -> [ChunkID] {
        try (1...2).map { index in
            let bytes = [UInt8](repeating: UInt8(index), count: 10_000)
            let id = SHA256Hasher.hash(bytes)
            _ = try bytes.withUnsafeBytes { try store.put(id, bytes: $0) }
            return id
        }
    }

    @Test func aFailedFilesChunksAreDeletedWhenNothingElseWritesToTheStore() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let writing = store.beginWriting()
        let ids = try Self.storeFailedFileChunks(in: store)
        #expect(try store.discardUnreferenced(ids, by: writing) == 2)
        #expect(ids.allSatisfy { !store.contains($0) })
        #expect(ChunkFiles.list(storeRoot: store.root).isEmpty)
    }

    @Test func chunksAnotherWriterMayCountOnStayForGC() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let failing = store.beginWriting()
        let ids = try Self.storeFailedFileChunks(in: store)
        // Another import or pull in this process may have found these chunks stored and will name them.
        var other: Store.WriteSession? = store.beginWriting()
        #expect(try store.discardUnreferenced(ids, by: failing) == nil)
        #expect(ids.allSatisfy { store.contains($0) })
        withExtendedLifetime(other) {}
        other = nil

        #expect(try store.discardUnreferenced(ids, by: failing) == 2)
        #expect(ids.allSatisfy { !store.contains($0) })
    }

    @Test func chunksStayForGCWhileAnotherProcessHasTheStoreOpen() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let writing = store.beginWriting()
        let ids = try Self.storeFailedFileChunks(in: store)
        // A second opening holds the store's lock as another process's would (a `manta import`, say).
        var elsewhere: Store? = try Store(root: store.root)
        #expect(try store.discardUnreferenced(ids, by: writing) == nil)
        #expect(ids.allSatisfy { store.contains($0) })
        withExtendedLifetime(elsewhere) {}
        elsewhere = nil

        let plan = try store.collectGarbage(dryRun: false)
        #expect(Set(plan.chunks) == Set(ids))
        #expect(ChunkFiles.list(storeRoot: store.root).isEmpty)
    }

    @Test func chunksAManifestNamesAreNeverDiscarded() throws {
        let scratch = try TemporaryDirectory()
        let folder = scratch.appending("model")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 50_000).write(to: URL(fileURLWithPath: "\(folder)/weights.bin"))
        let store = try Store(root: scratch.appending("store"))
        let summary = try store.importDirectory(folder, as: try RepoReference(parsing: "acme/model"))
        let named = try #require(summary.manifest.files.first?.chunks.first?.id)

        #expect(try store.discardUnreferenced([named], by: store.beginWriting()) == 0)
        #expect(try store.verify().isClean)
    }
}
