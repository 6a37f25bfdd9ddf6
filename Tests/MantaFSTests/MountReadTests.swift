import Foundation
import MantaStore
import MantaTestSupport
import MantaTransfer
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Reading models through the mount", .threadsOfItsOwn)
struct MountReadTests {
    @Test(
        "cmp finds every file of the real model and the synthetic shards identical through both views, with zstd or byte-grouped chunks",
        arguments: [StoreConfiguration.Compression.zstd, .zstdBytegroup])
    func everyFileMatchesThroughBothViews(compression: StoreConfiguration.Compression) throws {
        let models = [try TestModels.real(), try TestModels.shards(), try TestModels.shards(revision: "v2")]
        try withMount(models, compression: compression) { mount in
            let encoding: ChunkEncoding = compression == .zstd ? .zstd : .byteGrouped
            #expect(ChunkFiles.encodingCounts(storeRoot: mount.storePath)[encoding, default: 0] > 0)
            for model in models {
                let files = try TestModels.files(below: model.directory)
                #expect(!files.isEmpty)
                for view in [mount.modelPath(model), try mount.snapshotPath(model)] {
                    for file in files {
                        let result = try Program.run("/usr/bin/cmp", ["\(model.directory)/\(file)", "\(view)/\(file)"])
                        #expect(result.status == 0, "cmp \(view)/\(file): \(result.output)")
                    }
                }
            }
        }
    }

    @Test(
        "random reads from 1 byte to 8 MiB, across chunk boundaries and at the end of the file, match the original",
        arguments: [StoreConfiguration.Compression.none, .zstdBytegroup])
    func randomReadsMatch(compression: StoreConfiguration.Compression) throws {
        let model = try TestModels.shards()
        let name = "model-00001-of-00002.safetensors"
        // Small chunks put many boundaries inside each read.
        try withMount([model], compression: compression, chunkSize: 64 << 10) { mount in
            let original = try PosixFile(path: "\(model.directory)/\(name)")
            let mounted = try PosixFile(path: "\(mount.modelPath(model))/\(name)")
            let size = try original.size()
            #expect(try mounted.size() == size)
            var generator = SplitMix64(seed: 0x5eed)
            var reads: [(offset: Int, count: Int)] = [(0, 1), (size - 1, 1), (size - 100, 8 << 20), (size, 4096), (65535, 2), (0, 8 << 20)]
            for _ in 0..<200 {
                let count = [1, 7, 4096, 65536, 65537, 1 << 20, 8 << 20][Int.random(in: 0..<7, using: &generator)]
                reads.append((Int.random(in: 0..<size, using: &generator), count))
            }
            for read in reads {
                let expected = try original.read(count: read.count, at: read.offset)
                let actual = try mounted.read(count: read.count, at: read.offset)
                #expect(actual == expected, "read of \(read.count) bytes at \(read.offset) differs")
            }
        }
    }

    @Test("an mmap of a file through the mount holds the original bytes")
    func mmapMatches() throws {
        let model = try TestModels.real()
        try withMount([model]) { mount in
            let original = try Array(Data(contentsOf: URL(fileURLWithPath: "\(model.directory)/model.safetensors")))
            let file = try PosixFile(path: "\(mount.modelPath(model))/model.safetensors")
            let mapping = try file.map(count: original.count)
            defer { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count) }
            #expect(mapping.elementsEqual(original))
        }
    }

    @Test("threads and processes reading the same and different files at once all get the original bytes")
    func concurrentReadersGetOriginalBytes() throws {
        let model = try TestModels.shards()
        try withMount([model]) { mount in
            let files = try TestModels.files(below: model.directory)
            let failures = LockedList()
            DispatchQueue.concurrentPerform(iterations: 8) { reader in
                let file = files[reader % files.count]
                do {
                    let expected = try Data(contentsOf: URL(fileURLWithPath: "\(model.directory)/\(file)"))
                    let actual = try Data(contentsOf: URL(fileURLWithPath: "\(mount.modelPath(model))/\(file)"))
                    if actual != expected { failures.append("thread \(reader): \(file) differs") }
                } catch {
                    failures.append("thread \(reader): \(error)")
                }
            }
            #expect(failures.items.isEmpty, "\(failures.items)")
            let processes = try files.map { file -> Process in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/cmp")
                process.arguments = ["\(model.directory)/\(file)", "\(try mount.snapshotPath(model))/\(file)"]
                try process.run()
                return process
            }
            for process in processes {
                process.waitUntilExit()
                #expect(process.terminationStatus == 0, "cmp \(process.arguments ?? [])")
            }
        }
    }

    @Test("files are 0444 with their sizes, folders 0555 with the right link count, and listings are complete")
    func metadataIsCorrect() throws {
        let model = try TestModels.real()
        try withMount([model]) { mount in
            let root = mount.modelPath(model)
            for file in try TestModels.files(below: model.directory) {
                var original = stat()
                var mounted = stat()
                #expect(stat("\(model.directory)/\(file)", &original) == 0)
                #expect(stat("\(root)/\(file)", &mounted) == 0)
                #expect(mounted.st_size == original.st_size, "\(file)")
                #expect(mounted.st_mode == S_IFREG | 0o444, "\(file)")
                #expect(mounted.st_nlink == 1)
            }
            var folder = stat()
            #expect(stat(root, &folder) == 0)
            #expect(folder.st_mode == S_IFDIR | 0o555)
            #expect(folder.st_nlink == 3, "one subfolder (1_Pooling) plus . and ..")
            let listing = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
            let expected = try FileManager.default.contentsOfDirectory(atPath: model.directory).sorted()
            #expect(listing == expected)
            #expect(try FileManager.default.contentsOfDirectory(atPath: mount.mountPoint).sorted() == ["hub", "models"])
            var statistics = statvfs()
            #expect(statvfs(mount.mountPoint, &statistics) == 0)
            #expect(statistics.f_files == 13)
            #expect(UInt64(statistics.f_blocks) * UInt64(statistics.f_frsize) >= 80 << 20)
        }
    }
}

/// A read-only POSIX file that reports errno, so tests can check EIO and EROFS.
struct PosixFile: ~Copyable {
    struct Failure: Error, Equatable, CustomStringConvertible {
        let operation: String
        let errno: Int32
        var description: String { "\(operation): \(String(cString: strerror(errno)))" }
    }

    let descriptor: Int32

    init(path: String, flags: Int32 = O_RDONLY) throws {
        descriptor = open(path, flags | O_CLOEXEC)
        guard descriptor >= 0 else { throw Failure(operation: "open \(path)", errno: errno) }
    }

    deinit { close(descriptor) }

    func size() throws -> Int {
        var information = stat()
        guard fstat(descriptor, &information) == 0 else { throw Failure(operation: "fstat", errno: errno) }
        return Int(information.st_size)
    }

    func read(count: Int, at offset: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let got = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            guard got >= 0 else { throw Failure(operation: "pread", errno: errno) }
            if got == 0 { break }
            done += got
        }
        return Array(bytes[..<done])
    }

    func map(count: Int) throws -> UnsafeRawBufferPointer {
        guard let address = mmap(nil, count, PROT_READ, MAP_SHARED, descriptor, 0), address != MAP_FAILED else {
            throw Failure(operation: "mmap", errno: errno)
        }
        return UnsafeRawBufferPointer(start: address, count: count)
    }
}

final class LockedList: Sendable {
    private let storage = Mutex<[String]>([])

    func append(_ item: String) { storage.withLock { $0.append(item) } }
    var items: [String] { storage.withLock { $0 } }
}
