import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct DedupTests {
    @Test func twoReposSharingFilesAndTensorsStoreSharedChunksOnce() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.path)
        let shards = try Fixtures.syntheticShards()
        let first = try store.importDirectory(shards, as: try RepoReference(parsing: "acme/base"))
        let storedAfterFirst = try store.usage().storedBytes
        let second = try store.importDirectory(try Fixtures.syntheticShardsEdited(), as: try RepoReference(parsing: "other/finetune"))
        let usage = try store.usage()
        let newBytes = usage.storedBytes - storedAfterFirst
        let headers = second.manifest.files.filter { $0.scheme == .safetensors }.map { $0.chunks[0].length }.reduce(0, +)
        let smallFiles = second.manifest.files.filter { $0.scheme == .fixed }.map(\.size).reduce(0, +)
        #expect(newBytes <= headers + smallFiles)
        #expect(usage.logicalBytes == first.manifest.logicalSize + second.manifest.logicalSize)
        #expect(usage.dedupRatio > 1.9)
    }

    static func dataChunkIDs(_ manifest: Manifest) -> [ChunkID] {
        manifest.files.filter { $0.scheme != .fixed }.flatMap { $0.chunks.dropFirst().map(\.id) }
    }

    @Test(arguments: [("synthetic-48m", "synthetic-48m-edited"), ("gguf", "gguf-edited")])
    func anEditedHeaderThatShiftsEveryTensorKeepsDataChunksIdentical(original: String, edited: String) throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.path)
        let before = try store.importDirectory(try Fixtures.require(original), as: try RepoReference(parsing: "acme/a"))
        let after = try store.importDirectory(try Fixtures.require(edited), as: try RepoReference(parsing: "acme/b"))
        let headerSizes = Set(zip(before.manifest.files, after.manifest.files).map { $0.chunks.first?.length != $1.chunks.first?.length })
        #expect(headerSizes.contains(true), "the edit must move the data")
        let beforeIDs = Self.dataChunkIDs(before.manifest)
        let afterIDs = Set(Self.dataChunkIDs(after.manifest))
        #expect(beforeIDs.count > 4)
        let kept = beforeIDs.filter(afterIDs.contains).count
        #expect(Double(kept) / Double(beforeIDs.count) >= 0.99)
    }
}
