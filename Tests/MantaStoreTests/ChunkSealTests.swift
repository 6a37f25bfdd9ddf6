import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

#if canImport(Glibc)
import Glibc
#endif

@Suite(.threadsOfItsOwn) struct ChunkSealTests {
    static func importedGGUF(_ scratch: TemporaryDirectory) throws -> (store: Store, chunks: [ChunkID]) {
        let store = try Store(root: scratch.appending("store"))
        let summary = try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
        return (store, summary.manifest.chunkIDs)
    }

    @Test func everyChunkThatEntersTheStoreIsSealedAsItsFileIsNow() throws {
        let scratch = try TemporaryDirectory()
        let (store, chunks) = try Self.importedGGUF(scratch)
        #expect(!chunks.isEmpty)
        for id in chunks {
            let path = try #require(store.location(of: id)).path
            #expect(store.seal(of: id) == ChunkSeal(path: path), "chunk \(id)")
        }
    }

    @Test func writingToASealedChunkFileBreaksItsSeal() throws {
        let scratch = try TemporaryDirectory()
        let (store, chunks) = try Self.importedGGUF(scratch)
        let id = try #require(chunks.first)
        let path = try #require(store.location(of: id)).path
        let original = try flipByte(in: path, at: 0)
        #expect(store.seal(of: id) != ChunkSeal(path: path))
        // Writing the same byte back restores the bytes but not the seal: the file was written.
        let handle = try #require(FileHandle(forUpdatingAtPath: path))
        try handle.write(contentsOf: [original])
        try handle.close()
        #expect(store.seal(of: id) != ChunkSeal(path: path))
    }

    @Test func verifySealsChunksTheStoreFoundWithoutASealAndForgetsTheSealsOfQuarantinedOnes() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        let damagedID: ChunkID
        let chunks: [ChunkID]
        do {
            let (store, imported) = try Self.importedGGUF(scratch)
            chunks = imported
            damagedID = try #require(imported.last)
            try flipByte(in: try #require(store.location(of: damagedID)).path, at: 1)
        }
        // A store whose index was lost: recovery finds the chunk files again, with no seals.
        for suffix in ["", "-wal", "-shm"] { unlink("\(root)/meta.db\(suffix)") }
        let recovered = try Store(root: root)
        #expect(chunks.allSatisfy { recovered.seal(of: $0) == nil })

        let report = try recovered.verify()
        #expect(report.corruptChunks == [damagedID])
        #expect(recovered.seal(of: damagedID) == nil)
        for id in chunks where id != damagedID {
            #expect(recovered.seal(of: id) == ChunkSeal(path: try #require(recovered.location(of: id)).path), "chunk \(id)")
        }
    }
}
