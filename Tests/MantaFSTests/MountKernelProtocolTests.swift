import Foundation
import MantaStore
import MantaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("The mount's own FUSE protocol: INIT, passthrough and the chunk path", .serialized, .threadsOfItsOwn)
struct MountKernelProtocolTests {
    /// How the kernel gets a file's bytes.
    enum ReadPath: String, CaseIterable, CustomTestStringConvertible, Sendable {
        /// The kernel reads the file's passthrough copy itself.
        case passthrough
        /// Every read goes through the mount (the file was open before its copy was built).
        case chunks
        /// `MANTA_FUSE_FEATURES=none`: a kernel without passthrough, cloned descriptors or large requests.
        case featuresOff
        /// Compressed chunks have no passthrough copy.
        case compressed

        var testDescription: String { rawValue }
    }

    @Test("every fixture file reads byte-identical through read and mmap", arguments: ReadPath.allCases)
    func everyFileIsIdentical(path: ReadPath) throws {
        let models = [try TestModels.real(), try TestModels.shards()]
        let environment = path == .featuresOff ? ["MANTA_FUSE_FEATURES": "none"] : [:]
        try withMount(models, compression: path == .compressed ? .zstd : .none, environment: environment) { mount in
            let files = try models.flatMap { model in try TestModels.files(below: model.directory).map { (model, $0) } }
            // Opening each file once starts building its copy; a file kept open keeps the chunk path while it is.
            var held: [Int32] = []
            defer { held.forEach { close($0) } }
            for (model, file) in files {
                let descriptor = open("\(mount.modelPath(model))/\(file)", O_RDONLY)
                #expect(descriptor >= 0, "open \(file)")
                if path == .chunks { held.append(descriptor) } else { close(descriptor) }
            }
            let copies = "\(mount.storePath)/passthrough"
            switch path {
            case .passthrough, .chunks:
                let expected = Set(try files.compactMap { model, file in try Self.nonEmptyFileDigest(mount, model, file) })
                try Self.waitForCopies(expected, in: copies, mount: mount)
            case .featuresOff, .compressed:
                // Give a copy time to appear, were one (wrongly) being built.
                usleep(500_000)
                let built = (try? FileManager.default.contentsOfDirectory(atPath: copies)) ?? []
                if path == .featuresOff {
                    #expect(built.isEmpty, "\(built)")
                } else {
                    // Small files whose chunks did not compress are stored plain and may have a copy; the weights may not.
                    let weights = try files.filter { $0.1.hasSuffix(".safetensors") }.compactMap { model, file in
                        try Self.nonEmptyFileDigest(mount, model, file)
                    }
                    #expect(!weights.isEmpty && weights.allSatisfy { !built.contains($0) }, "\(built)")
                }
            }
            for (model, file) in files {
                let original = try Array(Data(contentsOf: URL(fileURLWithPath: "\(model.directory)/\(file)")))
                let mounted = "\(mount.modelPath(model))/\(file)"
                let copy = try Self.nonEmptyFileDigest(mount, model, file).map { "\(copies)/\($0)" }
                // The copies' pages are dropped once built: only the kernel's passthrough brings them back.
                if let copy, path == .passthrough || path == .chunks { try Self.dropCachedPages(copy) }
                #expect(try Array(Data(contentsOf: URL(fileURLWithPath: mounted))) == original, "read \(path) \(file)")
                if let copy, path == .chunks {
                    let resident = try Self.residentPages(copy)
                    #expect(resident == 0, "\(path) \(file): \(resident) pages of its copy were read")
                }
                if let copy, path == .passthrough {
                    // A copy can stand in its folder a moment before the mount serves opens from it (CI, with the
                    // suite beside it, once read a file by its chunks then): each try opens the file anew.
                    try eventuallyBlocking("\(file) read through its passthrough copy") {
                        try Self.dropCachedPages(copy)
                        _ = try Data(contentsOf: URL(fileURLWithPath: mounted))
                        return try Self.residentPages(copy) > 0
                    }
                }
                guard !original.isEmpty else { continue }
                let handle = try PosixFile(path: mounted)
                let mapping = try handle.map(count: original.count)
                defer { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), mapping.count) }
                #expect(mapping.elementsEqual(original), "mmap \(path) \(file)")
            }
        }
    }

    /// How a mount is told to use the kernel's features, or not.
    enum FeatureSwitch: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case on
        case environmentNone = "MANTA_FUSE_FEATURES=none"
        case flag = "--no-passthrough"

        var testDescription: String { rawValue }
    }

    @Test(
        "INIT takes requests up to fs.fuse.max_pages_limit, a cloned descriptor per reader and passthrough; MANTA_FUSE_FEATURES=none and --no-passthrough take 1 MiB requests on one descriptor",
        arguments: FeatureSwitch.allCases)
    func initNegotiatesKernelFeatures(features: FeatureSwitch) throws {
        let limit =
            (try? String(contentsOfFile: "/proc/sys/fs/fuse/max_pages_limit", encoding: .utf8))
            .flatMap { UInt32($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 256
        let featuresOn = features == .on
        try withMount(
            [try TestModels.shards()], environment: features == .environmentNone ? ["MANTA_FUSE_FEATURES": "none"] : [:],
            options: features == .flag ? ["--no-passthrough"] : []
        ) { mount in
            // The kernel lists the mount before it sends INIT, so the answer's log line may come a moment later.
            let initialised = { mount.log.split(separator: "\n").first { $0.contains("FUSE connection initialised") } }
            try eventuallyBlocking("the INIT answer logged: \(mount.log)") { initialised() != nil }
            let line = try #require(initialised())
            let fields = Self.fields(of: String(line))
            #expect(fields["max_pages"] == "\(min(limit, featuresOn ? 1024 : 256))", "\(line)")
            #expect(fields["cloned"] == "\(featuresOn)", "\(line)")
            #expect(Int(fields["readers"] ?? "") ?? 0 >= 2, "\(line)")
            #expect(fields["passthrough"] == "\(featuresOn)", "\(line)")
            // A read larger than any request still arrives whole.
            let model = try TestModels.shards()
            let name = "model-00001-of-00002.safetensors"
            let original = try PosixFile(path: "\(model.directory)/\(name)")
            let mounted = try PosixFile(path: "\(mount.modelPath(model))/\(name)")
            #expect(try mounted.read(count: 16 << 20, at: 4096) == (try original.read(count: 16 << 20, at: 4096)))
        }
    }

    @Test("a model removed from the store loses its passthrough copies once the mount sees it gone, so eviction frees their disk")
    func removedModelsLoseTheirCopies() throws {
        let kept = try TestModels.real()
        let removed = try TestModels.shards()
        try withMount([kept, removed]) { mount in
            let copies = "\(mount.storePath)/passthrough"
            let name = "model-00001-of-00002.safetensors"
            let digest = try #require(try Self.nonEmptyFileDigest(mount, removed, name))
            close(open("\(mount.modelPath(removed))/\(name)", O_RDONLY))
            try Self.waitForCopies([digest], in: copies, mount: mount)
            try mount.store.removeReference(try removed.reference)
            // Listing the models makes the mount look at the store again.
            _ = try FileManager.default.contentsOfDirectory(atPath: "\(mount.mountPoint)/hub")
            let remaining = Set((try? FileManager.default.contentsOfDirectory(atPath: copies)) ?? [])
            #expect(!remaining.contains(digest) && !remaining.contains("\(digest).seal"), "\(remaining.sorted())")
        }
    }

    // MARK: Helpers

    private static func nonEmptyFileDigest(_ mount: MountHarness, _ model: MountHarness.Model, _ file: String) throws -> String? {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(model.directory)/\(file)"))
        return data.isEmpty ? nil : SHA256Hasher.hash(Array(data)).hex
    }

    /// Waits (at most 60 s) until every digest has a sealed copy.
    private static func waitForCopies(_ digests: Set<String>, in directory: String, mount: MountHarness) throws {
        var names: Set<String> = []
        try eventuallyBlocking("passthrough copies built (have \(names.sorted())): \(mount.log)", poll: .milliseconds(50)) {
            names = Set((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            return digests.allSatisfy { names.contains($0) && names.contains("\($0).seal") }
        }
    }

    private static func dropCachedPages(_ path: String) throws {
        let file = try PosixFile(path: path)
        #expect(posix_fadvise(file.descriptor, 0, 0, POSIX_FADV_DONTNEED) == 0)
    }

    /// How many pages of the file are in the page cache.
    private static func residentPages(_ path: String) throws -> Int {
        let file = try PosixFile(path: path)
        let size = try file.size()
        let mapping = try file.map(count: size)
        defer { munmap(UnsafeMutableRawPointer(mutating: mapping.baseAddress), size) }
        let page = Int(getpagesize())
        var vector = [UInt8](repeating: 0, count: (size + page - 1) / page)
        #expect(mincore(UnsafeMutableRawPointer(mutating: mapping.baseAddress), size, &vector) == 0)
        return vector.count { $0 & 1 != 0 }
    }

    /// `key=value` words of a log line.
    private static func fields(of line: String) -> [String: String] {
        var fields: [String: String] = [:]
        for word in line.split(whereSeparator: { $0 == " " || $0 == "," }) {
            let parts = word.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = String(parts[1]) }
        }
        return fields
    }
}
