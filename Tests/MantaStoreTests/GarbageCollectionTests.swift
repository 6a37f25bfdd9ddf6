import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct GarbageCollectionTests {
    /// A store with three one-chunk models imported in order a, b, c, each `size` bytes.
    static func storeWithThreeModels(_ scratch: TemporaryDirectory, size: Int = 100_000) throws -> (Store, [RepoReference]) {
        let store = try Store(root: scratch.appending("store"))
        var references: [RepoReference] = []
        for (index, name) in ["a", "b", "c"].enumerated() {
            let folder = scratch.appending(name)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(repeating: UInt8(index + 1), count: size).write(to: URL(fileURLWithPath: "\(folder)/weights.bin"))
            let reference = try RepoReference(parsing: "acme/\(name)")
            try store.importDirectory(folder, as: reference)
            try store.unpin(reference)
            references.append(reference)
        }
        return (store, references)
    }

    static func chunk(_ store: Store, _ reference: RepoReference) throws -> ChunkID {
        try #require(try store.requireManifest(reference).manifest.files.first?.chunks.first?.id)
    }

    @Test func nothingGoesBelowTheHighWatermark() throws {
        let scratch = try TemporaryDirectory()
        let (store, _) = try Self.storeWithThreeModels(scratch)
        let plan = try store.collectGarbage(dryRun: false, quotaBytes: 400_000)
        #expect(plan.chunks.isEmpty)
    }

    @Test func aboveTheHighWatermarkLeastRecentlyUsedGoFirstDownToTheLowWatermark() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        try store.touch([try Self.chunk(store, references[0])])
        // 300 kB stored, quota 250 kB: high 225 kB, low 200 kB: one chunk must go, the least recently used (b).
        let chunks = try references.map { try Self.chunk(store, $0) }
        let plan = try store.collectGarbage(dryRun: true, quotaBytes: 250_000)
        #expect(plan.chunks == [chunks[1]])
        #expect(store.contains(chunks[1]), "a dry run deletes nothing")
        _ = try store.collectGarbage(dryRun: false, quotaBytes: 250_000)
        #expect(!store.contains(chunks[1]))
        #expect(store.contains(chunks[0]))
        #expect(store.contains(chunks[2]))
    }

    @Test func readsRecordedLateKeepTheirOwnTimesAndNeverMoveAnAccessBack() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        let chunks = try references.map { try Self.chunk(store, $0) }
        let earlier = Store.accessTime()
        try store.touch([chunks[0]])
        // b was read before a, c before b; the mount records both later, in one batch.
        try store.touch([chunks[2]: earlier - 2, chunks[1]: earlier - 1])
        try store.touch([chunks[0]: earlier - 10])
        let plan = try store.collectGarbage(dryRun: true, quotaBytes: 250_000)
        #expect(plan.chunks == [chunks[2]], "c was read least recently; a's older record does not undo its newer read")
    }

    @Test func evictionTakesWholeModelsLeastRecentlyUsedFirstAndDropsTheirReferences() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        try store.touch([try Self.chunk(store, references[0])])
        let plan = try store.collectGarbage(dryRun: false, quotaBytes: 250_000)
        #expect(plan.evicted.map(\.reference) == [references[1]])
        #expect(plan.evicted.first?.freedBytes == 100_000)
        #expect(try store.resolve(references[1]) == nil, "an evicted model's reference goes with its chunks")
        #expect(try store.references().map(\.reference) == [references[0], references[2]])
    }

    @Test func roomReservedForAPullEvictsMore() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        // 300 kB stored + 100 kB to come, quota 400 kB: over the high watermark (360 kB), down to the low one (320 kB).
        let plan = try store.collectGarbage(dryRun: true, quotaBytes: 400_000, reserving: 100_000)
        #expect(plan.evicted.map(\.reference) == [references[0]])
    }

    @Test func theSpaceReportSaysWhatIsHeldAndWhatEvictionCouldFree() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        try store.pin(references[2])
        let report = try store.spaceReport(quotaBytes: 250_000)
        #expect(report.usedBytes == 300_000)
        #expect(report.evictableBytes == 200_000)
        #expect(report.holds.map(\.model) == [references[2].description])
        #expect(report.holds.first?.holders == ["user:\(references[2])"])
        #expect(report.fits(150_000))
        #expect(!report.fits(150_001))
    }

    @Test func aLazilyRegisteredModelNothingHoldsIsEvictedWithItsRegistration() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        let bytes = [UInt8](repeating: 9, count: 100_000)
        let id = SHA256Hasher.hash(bytes)
        let lazy = try RepoReference(parsing: "acme/lazy")
        let digest = try store.register(
            Registration(
                reference: lazy, source: Manifest.Source(kind: "hub", repo: "acme/lazy", revision: "main", commit: "c0ffee"), chunkSize: 4 << 20,
                files: [.init(path: "weights.bin", size: 100_000, sha256: id, scheme: .fixed, spans: [ChunkSpan(offset: 0, length: 100_000)])]))
        _ = try bytes.withUnsafeBytes { try store.put(id, bytes: $0) }
        try store.recordPendingChunk(id, file: 0, span: 0, of: digest)
        // Read after the lazy model's first chunk came: it is the least recently used.
        try store.touch(try references.map { try Self.chunk(store, $0) })
        #expect(try store.spaceReport().evictableBytes == 400_000)

        // 400 kB stored, quota 250 kB: down to 200 kB, the lazy model first, then a.
        let plan = try store.collectGarbage(dryRun: false, quotaBytes: 250_000)
        #expect(plan.evicted.map(\.reference) == [lazy, references[0]])
        #expect(plan.evicted.map(\.lazy) == [true, false])
        #expect(try store.registrations().isEmpty)
        #expect(!store.contains(id))
    }

    @Test func aManifestOnlyAPinHoldsKeepsItsFileAndChunks() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        let (digest, _) = try store.requireManifest(references[0])
        let chunk = try Self.chunk(store, references[0])
        try store.pin(digest, holder: "open:1")
        try store.removeReference(references[0])
        let plan = try store.collectGarbage(dryRun: false, quotaBytes: 10_000)
        #expect(!plan.manifests.contains(digest))
        #expect((try? store.manifest(digest)) != nil, "a file open through a mount still reads its manifest")
        #expect(store.contains(chunk))
    }

    @Test func pinnedModelsAreNeverEvictedEvenWhenTheQuotaCannotBeMet() throws {
        let scratch = try TemporaryDirectory()
        let (store, references) = try Self.storeWithThreeModels(scratch)
        for reference in references { try store.pin(reference) }
        let plan = try store.collectGarbage(dryRun: false, quotaBytes: 10_000)
        #expect(plan.chunks.isEmpty)
        #expect(plan.quotaUnmet)
        try store.unpin(references[2])
        let unpinned = try Self.chunk(store, references[2])
        let second = try store.collectGarbage(dryRun: false, quotaBytes: 10_000)
        #expect(second.chunks == [unpinned])
    }

    @Test func removedModelsLoseUnsharedChunksButSharedOnesStay() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let shards = try Fixtures.syntheticShards()
        try store.importDirectory(shards, as: try RepoReference(parsing: "acme/one"))
        try store.importDirectory(try Fixtures.syntheticShardsEdited(), as: try RepoReference(parsing: "acme/two"))
        try store.removeReference(try RepoReference(parsing: "acme/two"))
        let plan = try store.collectGarbage(dryRun: false)
        #expect(plan.manifests.count == 1)
        #expect(!plan.chunks.isEmpty)
        try store.export(try RepoReference(parsing: "acme/one"), to: scratch.appending("out"))
        #expect(try StoreRoundTripTests.filesAreIdentical(shards, scratch.appending("out")))
    }
}
