import Foundation
import MantaTestSupport
import Testing
@testable import MantaStore

@Suite struct StoreRoundTripTests {
    static func filesAreIdentical(_ left: String, _ right: String) throws -> Bool {
        let enumerator = FileManager.default.enumerator(atPath: left)
        var checked = 0
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: "\(left)/\(relative)", isDirectory: &isDirectory)
            guard !isDirectory.boolValue else { continue }
            guard FileManager.default.contentsEqual(atPath: "\(left)/\(relative)", andPath: "\(right)/\(relative)") else { return false }
            checked += 1
        }
        return checked > 0
    }

    @Test(arguments: StoreConfiguration.Compression.allCases)
    func importThenExportOfTheRealModelIsByteIdentical(compression: StoreConfiguration.Compression) throws {
        let source = try Fixtures.realModel()
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"), changes: .init(compression: compression))
        let reference = try RepoReference(parsing: Fixtures.realModelRepo)
        let summary = try store.importDirectory(source, as: reference)
        #expect(summary.manifest.files.contains { $0.path == "1_Pooling/config.json" })
        #expect(summary.manifest.file(at: "model.safetensors")?.scheme == .safetensors)
        try store.export(reference, to: scratch.appending("out"))
        #expect(try Self.filesAreIdentical(source, scratch.appending("out")))
        #expect(try Self.filesAreIdentical(scratch.appending("out"), source))
    }

    @Test func importThenExportOfSyntheticShardsAndGGUFIsByteIdentical() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        for (source, name) in [(try Fixtures.syntheticShards(), "acme/shards"), (try Fixtures.gguf(), "acme/gguf")] {
            let reference = try RepoReference(parsing: name)
            try store.importDirectory(source, as: reference)
            try store.export(reference, to: scratch.appending(name))
            #expect(try Self.filesAreIdentical(source, scratch.appending(name)))
        }
    }

    @Test func wholeFileHashesMatchTheFiles() throws {
        let source = try Fixtures.syntheticShards()
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.path)
        let summary = try store.importDirectory(source, as: try RepoReference(parsing: "acme/shards"))
        for file in summary.manifest.files {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: "\(source)/\(file.path)")))
            #expect(SHA256Hasher.hash(bytes) == file.sha256, "\(file.path)")
        }
    }

    @Test func importingTheSameFolderTwiceWritesNothingAndGivesTheSameManifest() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.path)
        let reference = try RepoReference(parsing: "acme/shards")
        let first = try store.importDirectory(try Fixtures.syntheticShards(), as: reference)
        let second = try store.importDirectory(try Fixtures.syntheticShards(), as: reference)
        #expect(first.digest == second.digest)
        #expect(second.chunksWritten == 0)
        #expect(second.bytesWritten == 0)
    }

    @Test func zstdStoresOnlyChunksThatShrinkByAtLeastEightPercent() throws {
        let scratch = try TemporaryDirectory()
        let source = scratch.appending("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        try Data(repeating: 42, count: 300_000).write(to: URL(fileURLWithPath: "\(source)/zeros.bin"))
        var random = SystemRandomNumberGenerator()
        try Data((0..<300_000).map { _ in UInt8.random(in: 0...255, using: &random) }).write(to: URL(fileURLWithPath: "\(source)/noise.bin"))
        let store = try Store(root: scratch.appending("store"), changes: .init(compression: .zstd))
        let summary = try store.importDirectory(source, as: try RepoReference(parsing: "acme/mixed"))
        let zeros = try #require(summary.manifest.file(at: "zeros.bin")?.chunks.first?.id)
        let noise = try #require(summary.manifest.file(at: "noise.bin")?.chunks.first?.id)
        #expect(store.location(of: zeros)?.encoding == .zstd)
        #expect(store.location(of: noise)?.encoding == .plain)
        #expect(try store.read(zeros).count == 300_000)
    }
}
