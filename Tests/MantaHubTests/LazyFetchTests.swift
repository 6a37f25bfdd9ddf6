import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `manta add` and a `manta mount` over an empty store: chunks come from the hub on first read.
@Suite(.serialized) struct LazyFetchTests {
    static let repo = "acme/synthetic"
    static let shard = "model-00002-of-00002.safetensors"

    /// Reads one tensor with safetensors (mmap, as inference servers do) and prints its bytes' SHA-256.
    static let readTensor = """
        import hashlib, sys, ml_dtypes
        from safetensors import safe_open
        with safe_open(sys.argv[1], framework="numpy") as f:
            print(hashlib.sha256(f.get_tensor(sys.argv[2]).tobytes()).hexdigest())
        """

    /// A tensor from the middle of the shard, and its extent in the file.
    static func middleTensor(of path: String) throws -> (name: String, start: UInt64, end: UInt64) {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let headerLength = UInt64(data.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian)
        let header = try #require(try JSONSerialization.jsonObject(with: data.subdata(in: 8..<Int(8 + headerLength))) as? [String: Any])
        let tensors = header.compactMap { name, value -> (String, UInt64, UInt64)? in
            guard let offsets = (value as? [String: Any])?["data_offsets"] as? [UInt64] else { return nil }
            return (name, 8 + headerLength + offsets[0], 8 + headerLength + offsets[1])
        }.sorted { $0.1 < $1.1 }
        return try #require(tensors.first { $0.0.hasSuffix("mlp.up_proj.weight") && $0.1 > UInt64(data.count) / 3 })
    }

    @Test func safeOpenOfOneTensorFetchesOnlyTheHeaderAndThatTensorsChunksThenTheWholeModelMatchesAndBecomesAManifest() async throws {
        let folder = try Fixtures.syntheticShards()
        try await withLazyMount([Self.repo: folder]) { mount in
            try await mount.add(Self.repo)
            let source = "\(folder)/\(Self.shard)"
            let mounted = mount.modelFile(Self.repo, Self.shard)
            let sourceSize = try #require(try FileManager.default.attributesOfItem(atPath: source)[.size] as? UInt64)
            #expect(try FileManager.default.attributesOfItem(atPath: mounted)[.size] as? UInt64 == sourceSize)
            #expect(
                mount.hub.server.statistics.bytesServed(repo: try HubRepoID(Self.repo), path: Self.shard) < 64 << 10, "add read more than headers")
            mount.hub.server.statistics.reset()

            let tensor = try Self.middleTensor(of: source)
            let read = try await Program.runAwaitingExit(
                "/usr/bin/env",
                ["python3", "-c", Self.readTensor, mounted, tensor.name], environment: mount.environment, inheritingEnvironment: false,
                workingDirectory: mount.hub.directory.path
            )
            try #require(read.status == 0, "\(read.standardError)\n\(mount.log)")
            let sourceBytes = try Data(contentsOf: URL(fileURLWithPath: source))
            let expectedTensor = SHA256Hasher.hash(Array(sourceBytes[Int(tensor.start)..<Int(tensor.end)]))
            #expect(read.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines) == expectedTensor.hex)

            // What must leave the hub: the header chunk and the tensor's chunks. What may: chunks the kernel's
            // read-around (the mount's read-ahead) touches next to the header and the tensor.
            let spans = try chunkSpans(of: source)
            let window = UInt64(LazyMount.readAheadKiB << 10)
            func overlapping(_ range: Range<UInt64>) -> Set<ChunkSpan> {
                Set(spans.filter { $0.offset < range.upperBound && $0.end > range.lowerBound })
            }
            let needed = overlapping(0..<spans[0].end).union(overlapping(tensor.start..<tensor.end))
            let allowed = needed.union(overlapping(0..<window)).union(overlapping(tensor.start - window..<tensor.end + window))
            let served = UInt64(mount.hub.server.statistics.bytesServed(repo: try HubRepoID(Self.repo), path: Self.shard))
            let neededBytes = needed.reduce(0) { $0 + $1.length } - spans[0].length
            #expect(served >= neededBytes, "served \(served) bytes, the tensor's chunks alone are \(neededBytes)")
            #expect(served <= allowed.reduce(0) { $0 + $1.length }, "served \(served) bytes of a \(sourceSize)-byte shard")
            #expect(served < sourceSize / 2)

            for file in try FileManager.default.contentsOfDirectory(atPath: folder) {
                let compare = try await Program.runAwaitingExit(
                    "/usr/bin/env",
                    ["cmp", "\(folder)/\(file)", mount.modelFile(Self.repo, file)], environment: mount.environment, inheritingEnvironment: false,
                    workingDirectory: mount.hub.directory.path
                )
                #expect(compare.status == 0, "\(file): \(compare.standardOutput)\(compare.standardError)")
            }
            try await mount.waitUntilComplete(Self.repo)
            await mount.stop()
            let verify = try await mount.run(["verify"])
            #expect(verify.status == 0, "\(verify.standardOutput)\(verify.standardError)")
            let store = try await mount.hub.openStore()
            #expect(try store.registrations().isEmpty)
            let exported = mount.hub.directory.appending("export")
            try await blocking { try store.export(try RepoReference(parsing: Self.repo), to: exported) }
            #expect(try folderContents(exported) == folderContents(folder))
        }
    }

    @Test func concurrentReadsOfOneMissingChunkShareOneHubFetch() async throws {
        let folder = try Fixtures.syntheticShards()
        try await withLazyMount([Self.repo: folder]) { mount in
            try await mount.add(Self.repo)
            let spans = try chunkSpans(of: "\(folder)/\(Self.shard)")
            let chunk = try #require(spans.first { $0.length == ChunkingParameters.defaultTargetSize })
            mount.hub.server.statistics.reset()
            let path = mount.modelFile(Self.repo, Self.shard)
            // Different pages of one chunk, away from its (unaligned) edges: separate FUSE reads the kernel cannot merge.
            let results = try await withThrowingTaskGroup(of: Result<[UInt8], ReadFailure>.self) { group in
                for reader in 0..<4 {
                    group.addTask { try await readThroughMount(path, offset: chunk.offset + (64 << 10) + UInt64(reader) << 20, count: 4096) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { (try? $0.get().count) == 4096 })
            #expect(mount.hub.server.statistics.bytesServed(repo: try HubRepoID(Self.repo), path: Self.shard) == Int64(chunk.length))
            #expect(mount.hub.server.statistics.requestCount == 1)
        }
    }

    @Test func wrongBytesFromTheHubFailTheReadWithEIOAndKeepNothingOfTheFile() async throws {
        let folder = try Fixtures.syntheticShards()
        try await withLazyMount([Self.repo: folder]) { mount in
            try await mount.add(Self.repo)
            mount.hub.server.faults.inject(.corruptBody, times: 1000, on: .resolve, pathSuffix: Self.shard)
            let path = mount.modelFile(Self.repo, Self.shard)
            let whole = try await Program.runAwaitingExit(
                "/usr/bin/env",
                ["cat", path], environment: mount.environment, inheritingEnvironment: false, workingDirectory: mount.hub.directory.path
            )
            #expect(whole.status != 0, "a whole read of a file that fails its check succeeded")
            #expect(whole.standardError.contains("Input/output error"))
            #expect(try await readThroughMount(path, offset: 0, count: 4096) == .failure(ReadFailure(errno: EIO)))
            #expect(mount.log.contains("failed its check"))
            #expect(mount.log.contains("announced"))

            // Only chunks of the true files are stored: every corrupt one was dropped.
            var trueChunks = Set<ChunkID>()
            for file in try FileManager.default.contentsOfDirectory(atPath: folder) {
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(file)")))
                for span in try chunkSpans(of: "\(folder)/\(file)") {
                    trueChunks.insert(SHA256Hasher.hash(Array(bytes[Int(span.offset)..<Int(span.end)])))
                }
            }
            let store = try await mount.hub.openStore()
            #expect(chunkFiles(in: store).isSubset(of: trueChunks))
        }
    }

    @Test(arguments: [404, 500])
    func hubErrorsFailTheReadWithEIOAndSayWhyInTheLog(status: Int) async throws {
        let folder = try Fixtures.syntheticShards()
        try await withLazyMount([Self.repo: folder]) { mount in
            try await mount.add(Self.repo)
            mount.hub.server.faults.inject(.status(status), times: 1000, on: .resolve, pathSuffix: Self.shard)
            let path = mount.modelFile(Self.repo, Self.shard)
            let started = ContinuousClock.now
            #expect(try await readThroughMount(path, offset: 8 << 20, count: 4096) == .failure(ReadFailure(errno: EIO)))
            #expect(ContinuousClock.now - started < .seconds(60))
            #expect(mount.log.contains("could not be fetched"))
            #expect(mount.log.contains(status == 404 ? "does not exist" : "HTTP 500"))
            // The hub recovers: the next read fetches again.
            mount.hub.server.faults.removeAll()
            #expect(try await readThroughMount(path, offset: 8 << 20, count: 4096).get().count == 4096)
        }
    }

    @Test func ggufModelIsReadByteForByteAndBecomesAManifest() async throws {
        let folder = try Fixtures.gguf()
        try await withLazyMount(["acme/gguf": folder]) { mount in
            try await mount.add("acme/gguf")
            let compare = try await Program.runAwaitingExit(
                "/usr/bin/env",
                ["cmp", "\(folder)/model.gguf", mount.modelFile("acme/gguf", "model.gguf")], environment: mount.environment,
                inheritingEnvironment: false,
                workingDirectory: mount.hub.directory.path
            )
            #expect(compare.status == 0, "\(compare.standardOutput)\(compare.standardError)\n\(mount.log)")
            try await mount.waitUntilComplete("acme/gguf")
            let listing = try await mount.run(["ls"])
            #expect(listing.standardOutput.contains("acme/gguf"))
            #expect(!listing.standardOutput.contains("lazy"))
        }
    }

    @Test func addRecordsTheLayoutFromHeadersAloneAndAppearsInBothViews() async throws {
        let folder = try Fixtures.syntheticShards()
        try await withLazyMount([Self.repo: folder]) { mount in
            try await mount.add(Self.repo)
            let store = try await mount.hub.openStore()
            let (reference, digest) = try #require(try store.registrations().first)
            #expect(reference.description == "\(Self.repo)@main")
            let registration = try store.registration(digest)
            for file in registration.files {
                #expect(file.spans == (try chunkSpans(of: "\(folder)/\(file.path)")), "\(file.path)")
            }
            let commit = try String(contentsOfFile: "\(mount.mountPoint)/hub/models--acme--synthetic/refs/main", encoding: .utf8)
            #expect(commit == registration.source.commit)
            for file in registration.files {
                let snapshotFile = "\(mount.mountPoint)/hub/models--acme--synthetic/snapshots/\(commit)/\(file.path)"
                #expect(try FileManager.default.attributesOfItem(atPath: snapshotFile)[.size] as? UInt64 == file.size)
            }
            let listing = try await mount.run(["ls"])
            #expect(listing.standardOutput.contains("lazy"))
        }
    }

    @Test func addRejectsAMalformedNameAndAMissingRepositoryClearly() async throws {
        try await withLazyMount([:]) { mount in
            let malformed = try await mount.run(["add", "not-a-repo", "--endpoint", mount.hub.address.endpoint])
            #expect(malformed.status != 0)
            #expect(malformed.standardError.contains("not a repository id"))
            let missing = try await mount.run(["add", "acme/none", "--endpoint", mount.hub.address.endpoint])
            #expect(missing.status != 0)
            #expect(missing.standardError.contains("acme/none was not found"))
        }
    }
}
