import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct CorruptionTests {
    /// Imports the GGUF fixture and damages the file of the chunk holding the file's middle (by default,
    /// flips one byte in the middle of it).
    static func storeWithOneDamagedChunk(
        _ scratch: TemporaryDirectory, compression: StoreConfiguration.Compression = .none, damage: FileDamage = .flipByte(atFraction: 0.5)
    ) throws -> (root: String, chunk: ChunkID, location: Store.ChunkLocation) {
        let root = scratch.appending("store")
        let store = try Store(root: root, changes: .init(compression: compression))
        let summary = try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
        let file = try #require(summary.manifest.files.first)
        let chunk = file.chunks[file.chunkIndex(containing: file.size / 2)!]
        let location = try #require(store.location(of: chunk.id))
        try damage.apply(to: location.path)
        return (root, chunk.id, location)
    }

    @Test func verifyNamesTheCorruptChunkQuarantinesItAndFails() throws {
        let scratch = try TemporaryDirectory()
        let (root, chunk, _) = try Self.storeWithOneDamagedChunk(scratch)
        let result = try MantaProcess.run(["verify", "--store", root])
        #expect(result.status != 0)
        #expect(result.standardOutput.contains("corrupt chunk \(chunk)"))
        #expect(result.standardOutput.contains("acme/gguf@main is missing 1 chunks"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/quarantine/\(chunk.hex)"))
    }

    @Test("verify names exactly the damaged chunks, on any number of threads", arguments: [1, 2, 3])
    func verifyNamesExactlyTheDamagedChunks(workers: Int) throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let summary = try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
        let ids = try #require(summary.manifest.files.first).chunks.map(\.id)
        try #require(ids.count >= 4)
        let damaged: [(ChunkID, FileDamage)] = [
            (ids[0], .flipByte(atFraction: 0.9)), (ids[ids.count / 2], .truncate(toFraction: 0)), (ids[ids.count - 1], .truncate(toFraction: 0.5)),
        ]
        for (id, damage) in damaged { try damage.apply(to: try #require(store.location(of: id)).path) }

        let report = try store.verify(workers: workers)
        #expect(Set(report.corruptChunks) == Set(damaged.map(\.0)))
        #expect(report.chunksChecked == Set(ids).count)
        #expect(try store.verify(workers: workers).corruptChunks.isEmpty)
    }

    @Test func exportRefusesNamingTheFileAndChunkAndWritesNoBadByte() throws {
        let scratch = try TemporaryDirectory()
        let (root, chunk, _) = try Self.storeWithOneDamagedChunk(scratch)
        let output = scratch.appending("out")
        let result = try MantaProcess.run(["export", "acme/gguf", output, "--store", root])
        #expect(result.status != 0)
        #expect(result.standardError.contains("chunk \(chunk) of 'model.gguf' is corrupt"))
        let written = (try? FileManager.default.subpathsOfDirectory(atPath: output)) ?? []
        #expect(written.isEmpty, "no file, partial or temporary, is left: \(written)")
    }

    @Test(arguments: [
        FileDamage.flipByte(atFraction: 0.5),
        .truncate(toFraction: 0.5),
        .overwrite(offset: 0, bytes: Array(repeating: 0xA5, count: ByteGroupedFrame.headerSize)),
        // A header that claims a 1 TiB chunk: refused before anything that size is allocated.
        .overwrite(offset: 5, bytes: withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init)),
    ])
    func aDamagedByteGroupedChunkIsRefusedByExportAndNamedByVerify(damage: FileDamage) throws {
        let scratch = try TemporaryDirectory()
        let (root, chunk, location) = try Self.storeWithOneDamagedChunk(scratch, compression: .zstdBytegroup, damage: damage)
        #expect(location.encoding == .byteGrouped)
        let output = scratch.appending("out")
        let export = try MantaProcess.run(["export", "acme/gguf", output, "--store", root])
        #expect(export.status != 0)
        #expect(export.standardError.contains("chunk \(chunk) of 'model.gguf' is corrupt"), "\(export.standardError)")
        #expect(((try? FileManager.default.subpathsOfDirectory(atPath: output)) ?? []).isEmpty)
        let verify = try MantaProcess.run(["verify", "--store", root])
        #expect(verify.status != 0)
        #expect(verify.standardOutput.contains("corrupt chunk \(chunk)"), "\(verify.standardOutput)")
        #expect(FileManager.default.fileExists(atPath: "\(root)/quarantine/\(chunk.hex).zbg"))
    }

    @Test func aTruncatedManifestIsRejectedWithAClearError() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.path)
        let summary = try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
        let bytes = summary.manifest.canonicalJSON()
        #expect(throws: ManifestError.digestMismatch(expected: summary.digest)) {
            try Manifest.decode(Array(bytes.dropLast(10)), expectedDigest: summary.digest)
        }
        #expect {
            try Manifest.decode(Array(bytes.dropLast(10)))
        } throws: { error in
            (error as? ManifestError).map { "\($0)".contains("corrupt or truncated") } ?? false
        }
    }

    @Test func manifestsWithUnsafePathsOrGapsAreRejected() throws {
        let id = SHA256Hasher.hash([1])
        let escaping = Manifest(
            source: .init(kind: "local", repo: "a/b", revision: "main", commit: "c"), chunkSize: 1,
            files: [
                .init(path: "../etc/passwd", size: 1, sha256: id, scheme: .fixed, chunks: [.init(offset: 0, length: 1, id: id)])
            ])
        #expect(throws: ManifestError.unsafePath("../etc/passwd")) { try escaping.validate() }
        let gap = Manifest(
            source: .init(kind: "local", repo: "a/b", revision: "main", commit: "c"), chunkSize: 1,
            files: [
                .init(
                    path: "x", size: 3, sha256: id, scheme: .fixed,
                    chunks: [.init(offset: 0, length: 1, id: id), .init(offset: 2, length: 1, id: id)])
            ])
        #expect(throws: ManifestError.chunksDoNotTile("x")) { try gap.validate() }
    }
}
