import Foundation
import MantaTestSupport
import Testing
@testable import MantaStore

@Suite struct CorruptionTests {
    /// Imports the GGUF fixture and flips one byte in the middle of the chunk holding the file's middle.
    static func storeWithOneFlippedByte(_ scratch: TemporaryDirectory) throws -> (root: String, chunk: ChunkID) {
        let root = scratch.appending("store")
        let store = try Store(root: root)
        let summary = try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
        let file = try #require(summary.manifest.files.first)
        let chunk = file.chunks[file.chunkIndex(containing: file.size / 2)!]
        try flipByte(in: try #require(store.location(of: chunk.id)).path, at: chunk.length / 2)
        return (root, chunk.id)
    }

    @Test func verifyNamesTheCorruptChunkQuarantinesItAndFails() throws {
        let scratch = try TemporaryDirectory()
        let (root, chunk) = try Self.storeWithOneFlippedByte(scratch)
        let result = try MantaProcess.run(["verify", "--store", root])
        #expect(result.status != 0)
        #expect(result.standardOutput.contains("corrupt chunk \(chunk)"))
        #expect(result.standardOutput.contains("acme/gguf@main is missing 1 chunks"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/quarantine/\(chunk.hex)"))
    }

    @Test func exportRefusesNamingTheFileAndChunkAndWritesNoBadByte() throws {
        let scratch = try TemporaryDirectory()
        let (root, chunk) = try Self.storeWithOneFlippedByte(scratch)
        let output = scratch.appending("out")
        let result = try MantaProcess.run(["export", "acme/gguf", output, "--store", root])
        #expect(result.status != 0)
        #expect(result.standardError.contains("chunk \(chunk) of 'model.gguf' is corrupt"))
        let written = (try? FileManager.default.subpathsOfDirectory(atPath: output)) ?? []
        #expect(written.isEmpty, "no file, partial or temporary, is left: \(written)")
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
        let escaping = Manifest(source: .init(kind: "local", repo: "a/b", revision: "main", commit: "c"), chunkSize: 1, files: [
            .init(path: "../etc/passwd", size: 1, sha256: id, scheme: .fixed, chunks: [.init(offset: 0, length: 1, id: id)]),
        ])
        #expect(throws: ManifestError.unsafePath("../etc/passwd")) { try escaping.validate() }
        let gap = Manifest(source: .init(kind: "local", repo: "a/b", revision: "main", commit: "c"), chunkSize: 1, files: [
            .init(path: "x", size: 3, sha256: id, scheme: .fixed, chunks: [.init(offset: 0, length: 1, id: id), .init(offset: 2, length: 1, id: id)]),
        ])
        #expect(throws: ManifestError.chunksDoNotTile("x")) { try gap.validate() }
    }
}
