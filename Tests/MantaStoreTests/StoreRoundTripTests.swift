import CLinux
import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct StoreRoundTripTests {
    static func filesAreIdentical(_ left: String, _ right: String) throws -> Bool {
        let enumerator = FileManager.default.enumerator(atPath: left)
        var checked = 0
        while let relative = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: "\(left)/\(relative)", isDirectory: &isDirectory)
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

    /// Whether temporary folders are on a file system whose `O_DIRECT` writes bypass the page cache (tmpfs keeps
    /// every file in it).
    static var temporaryFolderIsOnDisk: Bool {
        let type = clinux_filesystem_type(NSTemporaryDirectory())
        return type != -1 && type != 0x0102_1994
    }

    @Test(
        "an import writes its chunks past the page cache, so a large import does not push out what is cached", .enabled(if: temporaryFolderIsOnDisk))
    func importLeavesItsChunksOutOfThePageCache() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let summary = try store.importDirectory(try Fixtures.syntheticShards(), as: try RepoReference(parsing: "acme/shards"))
        var checked = 0
        for chunk in summary.manifest.files.flatMap(\.chunks) where chunk.length >= 1 << 20 {
            let resident = try Self.residentPages(of: try #require(store.location(of: chunk.id)).path, length: Int(chunk.length))
            #expect(resident <= 1, "\(resident) pages of a \(chunk.length)-byte chunk are cached (only its last partial block may be)")
            checked += 1
        }
        #expect(checked > 0)
    }

    @Test(
        "a chunk put past the page cache (as a pull's are) is left out of it, and reads back byte-identical through any buffer",
        .enabled(if: temporaryFolderIsOnDisk))
    func aChunkPutPastThePageCacheIsLeftOutOfItAndReadsBackIdentical() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let length = (1 << 20) + 1000
        let aligned = UnsafeMutableRawBufferPointer.allocate(byteCount: length + 1, alignment: 4096)
        defer { aligned.deallocate() }
        for index in 0..<length { aligned[index] = UInt8(truncatingIfNeeded: (index &* 31) ^ (index >> 9)) }
        let bytes = UnsafeRawBufferPointer(rebasing: aligned[..<length])
        let id = SHA256Hasher.hash(bytes)
        #expect(try store.put(id, bytes: bytes, pastPageCache: true) > 0)
        let resident = try Self.residentPages(of: try #require(store.location(of: id)).path, length: length)
        #expect(resident <= 1, "\(resident) pages of the chunk are cached (only its last partial block may be)")
        // From unaligned memory (a peer's chunk) too: copied through an aligned buffer of the store's.
        let unaligned = UnsafeRawBufferPointer(rebasing: aligned[1..<length])
        let other = SHA256Hasher.hash(unaligned)
        #expect(try store.put(other, bytes: unaligned, pastPageCache: true) > 0)
        let otherResident = try Self.residentPages(of: try #require(store.location(of: other)).path, length: length - 1)
        #expect(otherResident <= 1, "\(otherResident) pages of the chunk from unaligned memory are cached")
        #expect(SHA256Hasher.hash(try store.read(other)) == other)

        // Read back past the page cache, a piece at a time, ending in a partial block.
        var read: [UInt8] = []
        try store.readChunk(id) { read += $0 }
        #expect(read.count == length)
        #expect(SHA256Hasher.hash(read) == id)
        #expect(try store.read(id).count == length)
        let missing = SHA256Hasher.hash(Array("not stored".utf8))
        #expect(throws: StoreError.self) { try store.readChunk(missing) { _ in } }
    }

    /// How many of the file's pages are in the page cache.
    static func residentPages(of path: String, length: Int) throws -> Int {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        defer { close(descriptor) }
        let mapping = try #require(mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0))
        defer { munmap(mapping, length) }
        let pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        var pages = [UInt8](repeating: 0, count: (length + pageSize - 1) / pageSize)
        #expect(mincore(mapping, length, &pages) == 0)
        return pages.filter { $0 & 1 != 0 }.count
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

    @Test(arguments: [FileHashPlacement.onePass, .ownThread])
    func wholeFileHashesAndChunksMatchTheFilesWhereverTheHashesGo(placement: FileHashPlacement) throws {
        let scratch = try TemporaryDirectory()
        for (source, name) in [(try Fixtures.syntheticShards(), "acme/shards"), (try Fixtures.realModel(), "acme/real")] {
            let store = try Store(root: scratch.appending("store-\(name)"))
            let reference = try RepoReference(parsing: name)
            let summary = try store.importDirectory(source, as: reference, workers: 2, placement: placement)
            for file in summary.manifest.files {
                let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: "\(source)/\(file.path)")))
                #expect(SHA256Hasher.hash(bytes) == file.sha256, "\(file.path)")
            }
            try store.export(reference, to: scratch.appending("out-\(name)"))
            #expect(try Self.filesAreIdentical(source, scratch.appending("out-\(name)")))
            #expect(try store.verify().isClean)
        }
    }

    @Test func aFileWhoseFirstChunkIsStoredButWhoseDataChangedGetsTheHashOfItsNewBytes() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let source = scratch.appending("shards")
        try Fixtures.copy(try Fixtures.syntheticShards(), to: source)
        let first = try store.importDirectory(source, as: try RepoReference(parsing: "acme/a"))
        let shard = try #require(first.manifest.files.filter { $0.scheme == .safetensors }.max { $0.size < $1.size })
        let path = "\(source)/\(shard.path)"
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 100] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let second = try store.importDirectory(source, as: try RepoReference(parsing: "acme/b"))
        #expect(second.chunksWritten == 1)
        #expect(second.manifest.file(at: shard.path)?.sha256 == SHA256Hasher.hash(bytes))
        #expect(second.manifest.file(at: shard.path)?.sha256 != shard.sha256)
    }

    @Test(arguments: [FileHashPlacement.onePass, .ownThread])
    func twoIdenticalNewFilesHashedAtOnceStoreTheirChunksOnce(placement: FileHashPlacement) throws {
        let scratch = try TemporaryDirectory()
        let source = scratch.appending("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        var random = SystemRandomNumberGenerator()
        let bytes = Data((0..<(10 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) })
        for name in ["a.bin", "b.bin"] { try bytes.write(to: URL(fileURLWithPath: "\(source)/\(name)")) }
        let store = try Store(root: scratch.appending("store"))
        let summary = try store.importDirectory(source, as: try RepoReference(parsing: "acme/twins"), workers: 2, placement: placement)
        let chunks = try #require(summary.manifest.file(at: "a.bin")?.chunks)
        #expect(summary.manifest.file(at: "b.bin")?.chunks == chunks)
        for name in ["a.bin", "b.bin"] { #expect(summary.manifest.file(at: name)?.sha256 == SHA256Hasher.hash(Array(bytes)), "\(name)") }
        #expect(summary.chunksWritten == chunks.count)
        #expect(summary.bytesWritten == UInt64(bytes.count))
        #expect(try store.usage().storedBytes == UInt64(bytes.count))
    }

    @Test func importingTheSameFolderTwiceWritesNothingAndGivesTheSameManifest() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.path)
        let reference = try RepoReference(parsing: "acme/shards")
        let first = try store.importDirectory(try Fixtures.syntheticShards(), as: reference)
        func referenceFile() -> (inode: UInt, modified: Int) {
            var info = stat()
            stat(scratch.path + "/refs/acme/shards/main", &info)
            return (UInt(info.st_ino), info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec)
        }
        let written = referenceFile()
        let second = try store.importDirectory(try Fixtures.syntheticShards(), as: reference)
        #expect(first.digest == second.digest)
        #expect(second.chunksWritten == 0)
        #expect(second.bytesWritten == 0)
        #expect(referenceFile() == written, "the reference file was rewritten")
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
