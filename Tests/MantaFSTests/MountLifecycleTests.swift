import Foundation
import MantaStore
import MantaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("Mount lifecycle, writes, corruption and store changes", .threadsOfItsOwn)
struct MountLifecycleTests {
    @Test("writes, creates, renames, removals and attribute changes fail with EROFS")
    func writesFailWithReadOnly() throws {
        let model = try TestModels.real()
        try withMount([model]) { mount in
            let folder = mount.modelPath(model)
            let file = "\(folder)/config.json"
            #expect(throws: PosixFile.Failure(operation: "open \(file)", errno: EROFS)) { _ = try PosixFile(path: file, flags: O_WRONLY) }
            #expect(throws: PosixFile.Failure(operation: "open \(file)", errno: EROFS)) { _ = try PosixFile(path: file, flags: O_RDWR) }
            let created = "\(folder)/new.bin"
            #expect(throws: PosixFile.Failure(operation: "open \(created)", errno: EROFS)) {
                _ = try PosixFile(path: created, flags: O_WRONLY | O_CREAT)
            }
            let calls: [(String, () -> Int32)] = [
                ("mkdir", { mkdir("\(folder)/sub", 0o755) }),
                ("unlink", { unlink(file) }),
                ("rmdir", { rmdir("\(folder)/1_Pooling") }),
                ("rename", { rename(file, "\(folder)/moved.json") }),
                ("chmod", { chmod(file, 0o644) }),
                ("truncate", { truncate(file, 0) }),
                ("symlink", { symlink(file, "\(folder)/link") }),
            ]
            for (name, call) in calls {
                #expect(call() == -1 && errno == EROFS, "\(name) should fail with EROFS")
            }
        }
    }

    @Test("SIGTERM unmounts and exits cleanly, leaving no stale mount")
    func sigtermUnmountsCleanly() throws {
        let harness = try MountHarness([try TestModels.real()])
        defer { harness.cleanUp() }
        try harness.mount()
        let bytes = try PosixFile(path: "\(harness.modelPath(try TestModels.real()))/config.json").read(count: 10, at: 0)
        #expect(bytes.count == 10)
        #expect(try harness.terminate() == 0, "\(harness.log)")
        #expect(!MountHarness.isMounted(harness.mountPoint))
        var information = stat()
        #expect(stat(harness.mountPoint, &information) == 0, "the mount point is a plain folder again, not a dead endpoint")
        #expect(harness.log.contains("unmounted"))
    }

    @Test("SIGTERM with a file another process holds open through the mount ends the mount while the file stays open")
    func sigtermWithAFileOpenAbortsAndExits() throws {
        let model = try TestModels.shards()
        let harness = try MountHarness([model])
        defer { harness.cleanUp() }
        try harness.mount()
        // Like an inference server: a process with the model open that does nothing when the mount goes.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        holder.arguments = [
            "-c", "exec 3< \"$0\" && head -c 10 <&3 >/dev/null && echo open && exec sleep 30", "\(harness.modelPath(model))/config.json",
        ]
        let output = Pipe()
        holder.standardOutput = output
        try holder.run()
        defer { holder.terminate() }
        #expect(String(decoding: output.fileHandleForReading.readData(ofLength: 5), as: UTF8.self) == "open\n")
        // Without the abort the mount stays up until the holder closes its file (30 s). With it, the mount ends after its
        // 5 s grace, or sooner when a request from the kernel wakes its loop after the unmount (it does under load).
        #expect(try harness.terminate() == 0, "\(harness.log)")
        #expect(!MountHarness.isMounted(harness.mountPoint))
        #expect(holder.isRunning, "the holder still has its file open")
    }

    /// A store holding the synthetic shards, not yet mounted, and the chunk of `path` that `pick` chooses (by
    /// index, from the count), with its file in the store, for a test to damage.
    private static func shardsWithChunk(
        of path: String, _ pick: (Int) -> Int
    ) throws -> (harness: MountHarness, model: MountHarness.Model, file: Manifest.File, chunk: Manifest.Chunk, chunkPath: String) {
        let model = try TestModels.shards()
        let harness = try MountHarness([model])
        let (_, manifest) = try harness.store.requireManifest(try model.reference)
        let file = try #require(manifest.file(at: path))
        let chunk = file.chunks[pick(file.chunks.count)]
        return (harness, model, file, chunk, try #require(harness.store.location(of: chunk.id)).path)
    }

    @Test(
        "a chunk whose file was written after it was sealed is hashed again: reads of it fail with EIO and it is logged, while other files still read"
    )
    func corruptChunkFailsWithEIO() throws {
        let (harness, model, damaged, chunk, chunkPath) = try Self.shardsWithChunk(of: "model-00002-of-00002.safetensors") { $0 / 2 }
        defer { harness.cleanUp() }
        try flipByte(in: chunkPath, at: chunk.length / 2)

        try harness.mount()
        let file = try PosixFile(path: "\(harness.modelPath(model))/\(damaged.path)")
        #expect(throws: PosixFile.Failure(operation: "pread", errno: EIO)) { try file.read(count: 4096, at: Int(chunk.offset)) }
        #expect(throws: PosixFile.Failure(operation: "pread", errno: EIO)) { try file.read(count: 4096, at: Int(chunk.offset + chunk.length) - 10) }
        let before = try file.read(count: 4096, at: 0)
        #expect(before.count == 4096, "chunks before the damaged one still read")
        let healthy = "model-00001-of-00002.safetensors"
        #expect(try Program.run("/usr/bin/cmp", ["\(model.directory)/\(healthy)", "\(harness.modelPath(model))/\(healthy)"]).status == 0)
        #expect(harness.log.contains("corrupt"), "\(harness.log)")
        #expect(harness.log.contains(chunk.id.hex))
    }

    @Test("a chunk file cut short makes reads of it fail with EIO, and the mount goes on serving")
    func truncatedChunkFailsWithEIO() throws {
        let (harness, model, damaged, chunk, chunkPath) = try Self.shardsWithChunk(of: "model-00001-of-00002.safetensors") { $0 - 1 }
        defer { harness.cleanUp() }
        #expect(truncate(chunkPath, off_t(chunk.length / 2)) == 0)

        try harness.mount()
        let file = try PosixFile(path: "\(harness.modelPath(model))/\(damaged.path)")
        #expect(throws: PosixFile.Failure(operation: "pread", errno: EIO)) { try file.read(count: 4096, at: Int(chunk.offset + chunk.length) - 4096) }
        let healthy = "model-00002-of-00002.safetensors"
        #expect(try Program.run("/usr/bin/cmp", ["\(model.directory)/\(healthy)", "\(harness.modelPath(model))/\(healthy)"]).status == 0)
        #expect(harness.log.contains(chunk.id.hex), "\(harness.log)")
    }

    @Test("a chunk file cut short after the mount mapped it makes the reads it can no longer serve fail with EIO, and the mount lives on")
    func chunkTruncatedWhileMappedFailsWithEIO() throws {
        let (harness, model, damaged, chunk, chunkPath) = try Self.shardsWithChunk(of: "model-00001-of-00002.safetensors") { $0 / 2 }
        defer { harness.cleanUp() }
        try harness.mount()
        do {
            let file = try PosixFile(path: "\(harness.modelPath(model))/\(damaged.path)")
            #expect(try file.read(count: 4096, at: Int(chunk.offset)).count == 4096, "the chunk is mapped now")
            #expect(truncate(chunkPath, off_t(chunk.length / 4)) == 0)
            #expect(throws: PosixFile.Failure(operation: "pread", errno: EIO)) {
                try file.read(count: 4096, at: Int(chunk.offset + chunk.length) - 4096)
            }
        }
        let healthy = "model-00002-of-00002.safetensors"
        #expect(try Program.run("/usr/bin/cmp", ["\(model.directory)/\(healthy)", "\(harness.modelPath(model))/\(healthy)"]).status == 0)
        #expect(try harness.terminate() == 0, "\(harness.log)")
    }

    @Test("a sealed chunk is served without being hashed again; verify's full rehash still finds damage that kept the seal")
    func sealedChunkIsTrustedUntilVerify() throws {
        let (harness, model, damaged, chunk, chunkPath) = try Self.shardsWithChunk(of: "model-00002-of-00002.safetensors") { $0 / 2 }
        defer { harness.cleanUp() }
        let original = try flipByte(in: chunkPath, at: chunk.length / 2)
        // Stands in for damage the kernel never saw (bit rot below the file system), which leaves the seal as it was.
        try harness.store.recordSeals([(chunk.id, try #require(ChunkSeal(path: chunkPath)))])

        try harness.mount()
        let file = try PosixFile(path: "\(harness.modelPath(model))/\(damaged.path)")
        let served = try file.read(count: 1, at: Int(chunk.offset + chunk.length / 2))
        #expect(served == [original ^ 0xff], "the mount trusted the seal and did not hash the chunk")
        #expect(try harness.terminate() == 0, "\(harness.log)")

        #expect(try harness.store.verify().corruptChunks == [chunk.id])
    }

    @Test(
        "a chunk changed in place after the mount served it, its size and modification time kept, is never served again: the next read fails with EIO and the chunk is quarantined"
    )
    func chunkChangedAfterItWasServedIsRefused() throws {
        let (harness, model, damaged, chunk, chunkPath) = try Self.shardsWithChunk(of: "model-00002-of-00002.safetensors") { $0 / 2 }
        defer { harness.cleanUp() }
        try harness.mount()
        let path = "\(harness.modelPath(model))/\(damaged.path)"
        let inside = Int(chunk.offset + chunk.length / 2)
        let source = try PosixFile(path: "\(model.directory)/\(damaged.path)")
        let expected = try source.read(count: 4096, at: inside)
        #expect(try PosixFile(path: path).read(count: 4096, at: inside) == expected, "the chunk is checked and mapped now")

        try overwriteKeepingTimes(chunkPath, at: chunk.length / 2, with: expected.map { $0 ^ 0x5a })
        try dropPageCaches()
        #expect(throws: PosixFile.Failure(operation: "pread", errno: EIO)) { try PosixFile(path: path).read(count: 4096, at: inside) }
        #expect(throws: PosixFile.Failure(operation: "pread", errno: EIO)) { try PosixFile(path: path).read(count: 4096, at: inside) }
        #expect(harness.store.location(of: chunk.id) == nil, "the changed chunk left the store")
        #expect(FileManager.default.fileExists(atPath: "\(harness.storePath)/quarantine/\(chunk.id.hex)"))
        #expect(harness.log.contains(chunk.id.hex) && harness.log.contains("quarantine"), "\(harness.log)")
        let healthy = "model-00001-of-00002.safetensors"
        #expect(try Program.run("/usr/bin/cmp", ["\(model.directory)/\(healthy)", "\(harness.modelPath(model))/\(healthy)"]).status == 0)
        #expect(try harness.terminate() == 0, "\(harness.log)")
    }

    @Test("a chunk file written again with its own bytes after the mount served it is hashed again and still served")
    func chunkRewrittenWithItsOwnBytesIsServedAfterAHash() throws {
        let (harness, model, file, chunk, chunkPath) = try Self.shardsWithChunk(of: "model-00001-of-00002.safetensors") { $0 / 2 }
        defer { harness.cleanUp() }
        try harness.mount()
        let path = "\(harness.modelPath(model))/\(file.path)"
        #expect(try Program.run("/usr/bin/cmp", ["\(model.directory)/\(file.path)", path]).status == 0)
        let sealed = try #require(harness.store.seal(of: chunk.id))

        let original = try PosixFile(path: chunkPath).read(count: 4096, at: 0)
        try overwriteKeepingTimes(chunkPath, at: 0, with: original)
        #expect(ChunkSeal(path: chunkPath) != sealed, "the write changed the seal, though not the bytes")
        try dropPageCaches()
        #expect(try Program.run("/usr/bin/cmp", ["\(model.directory)/\(file.path)", path]).status == 0)
        #expect(harness.log.contains("hashing it again"), "\(harness.log)")
        #expect(harness.store.location(of: chunk.id) != nil)
        #expect(try harness.terminate() == 0, "\(harness.log)")
    }

    @Test(
        "a mount that runs out of file descriptors keeps its last good tree: models/ still lists and reads every model, and the failed scan is logged"
    )
    func descriptorShortageKeepsTheLastGoodTree() throws {
        let model = try TestModels.shards()
        // Passthrough copies are built in the background: one finishing after the limit is lowered closes descriptors
        // below it, and the scan this test needs to fail would find a free one.
        try withMount([model], options: ["--no-passthrough"]) { mount in
            let files = try TestModels.files(below: model.directory)
            func everyFileReads() throws -> Bool {
                try files.allSatisfy { try Program.run("/usr/bin/cmp", ["\(model.directory)/\($0)", "\(mount.modelPath(model))/\($0)"]).status == 0 }
            }
            #expect(try everyFileReads(), "every chunk is checked and mapped now")
            let pid = try #require(mount.process?.processIdentifier)
            try Self.exhaustDescriptors(of: pid)
            defer { _ = try? Program.run("/usr/bin/prlimit", ["--pid", "\(pid)", "--nofile=65536:65536"]) }

            try dropPageCaches()
            #expect(try FileManager.default.contentsOfDirectory(atPath: "\(mount.mountPoint)/models/synthetic") == ["shards"])
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: mount.modelPath(model)).sorted() == files.filter { !$0.contains("/") }.sorted())
            #expect(try everyFileReads())
            #expect(mount.log.contains("could not list the store's models") && mount.log.contains("Too many open files"), "\(mount.log)")
        }
    }

    /// Lowers the process's descriptor limit to its lowest free descriptor number, so that every descriptor it has
    /// stays open and every new one fails with EMFILE.
    private static func exhaustDescriptors(of pid: Int32) throws {
        let open = Set(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap(Int.init))
        let lowestFree = (0...).first { !open.contains($0) } ?? open.count
        let result = try Program.run("/usr/bin/prlimit", ["--pid", "\(pid)", "--nofile=\(lowestFree):\(lowestFree)"])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("a model imported while mounted appears without a remount, and disappears when removed")
    func importedModelAppearsAndRemovedDisappears() throws {
        let model = try TestModels.real()
        let harness = try MountHarness([])
        defer { harness.cleanUp() }
        try harness.mount()
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(harness.mountPoint)/models").isEmpty)

        try harness.importModel(model)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(harness.mountPoint)/models") == ["sentence-transformers"])
        #expect(
            try Program.run("/usr/bin/cmp", ["\(model.directory)/model.safetensors", "\(harness.modelPath(model))/model.safetensors"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: "\(try harness.snapshotPath(model))/config.json"))

        try harness.store.removeReference(try model.reference)
        // The background scan (every second) makes the kernel forget the names, one after the other; bounded wait
        // for both views.
        let hubPath = "\(harness.mountPoint)/hub/models--sentence-transformers--all-MiniLM-L6-v2"
        try eventuallyBlocking("both views forget the removed model", timeout: .seconds(5), poll: .milliseconds(50)) {
            ![harness.modelPath(model), hubPath].contains(where: FileManager.default.fileExists(atPath:))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(harness.mountPoint)/models").isEmpty)
    }

    @Test("a file open through the mount pins its manifest until it is closed")
    func openFilePinsItsManifest() throws {
        let model = try TestModels.real()
        try withMount([model]) { mount in
            let digest = try #require(try mount.store.resolve(try model.reference))
            let holder = "open:\(try #require(mount.process).processIdentifier)"
            func pinned() throws -> Bool { try mount.store.pins().contains { $0.manifest == digest && $0.holder == holder } }
            #expect(try !pinned())
            do {
                let file = try PosixFile(path: "\(mount.modelPath(model))/model.safetensors")
                #expect(try file.read(count: 16, at: 0).count == 16)
                #expect(try pinned())
            }
            // release reaches the mount after close returns; bounded wait.
            try eventuallyBlocking("the pin released after close", timeout: .seconds(5)) { try !pinned() }
        }
    }

    @Test("mounting on a missing folder or on a file fails with a message that names the problem")
    func badMountPointsAreRejected() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.appending("missing")
        let result = try MantaProcess.run(["mount", missing, "--store", directory.appending("store")])
        #expect(result.status != 0)
        #expect(result.standardError.contains("\(missing) does not exist"), "\(result.standardError)")

        let file = directory.appending("file")
        _ = FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        let onFile = try MantaProcess.run(["mount", file, "--store", directory.appending("store")])
        #expect(onFile.status != 0)
        #expect(onFile.standardError.contains("is not a folder"), "\(onFile.standardError)")
    }
}
