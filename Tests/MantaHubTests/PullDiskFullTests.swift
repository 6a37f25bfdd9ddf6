import Foundation
import MantaStore
import MantaTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A pull that fills the store's disk leaves it as full as it found it, and says so.
@Suite(.serialized) struct PullDiskFullTests {
    /// Bytes in use on the file system holding `path`.
    static func usedBytes(_ path: String) throws -> UInt64 {
        var statistics = statvfs()
        guard statvfs(path, &statistics) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return UInt64(statistics.f_blocks - statistics.f_bfree) * UInt64(statistics.f_frsize)
    }

    @Test func aPullThatFillsTheDiskRemovesWhatItStoredAndSaysTheDiskIsFull() async throws {
        let directory = try TemporaryDirectory("manta-disk-full")
        let model = try Fixtures.syntheticShards()
        let repoFolder = directory.appending("hub/acme/big")
        try FileManager.default.createDirectory(atPath: repoFolder, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: model) {
            try FileManager.default.copyItem(atPath: "\(model)/\(name)", toPath: "\(repoFolder)/\(name)")
        }
        let manta = try MantaProcess.binaryPath()
        let hub = try ChildProcess.start(
            [manta, "hub", "serve", directory.appending("hub"), "--addr", "127.0.0.1:0"], environment: [:], captureOutput: true)
        defer { kill(hub.pid, SIGTERM) }
        let endpoint = try #require(try await hub.firstOutputLine().split(separator: "=", maxSplits: 1).last.map(String.init))

        // A file system of 16 MiB, less than the model's 41 MB, that this test mounts itself (as root).
        let small = directory.appending("small")
        try FileManager.default.createDirectory(atPath: small, withIntermediateDirectories: true)
        let mounted = try await Program.runAwaitingExit(
            "/usr/bin/env",
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", small], environment: [:], inheritingEnvironment: false,
            workingDirectory: directory.path)
        try #require(mounted.status == 0, "\(mounted.standardError)")
        defer { umount2(small, Int32(MNT_DETACH)) }

        let store = "\(small)/store"
        let environment = PullProcessTests.environment(endpoint: endpoint, home: directory.path)
        let work = URL(fileURLWithPath: directory.path)
        let created = try await Program.runAwaitingExit(
            "/usr/bin/env", [manta, "du", "--store", store], environment: environment, inheritingEnvironment: false, workingDirectory: work.path)
        #expect(created.status == 0, "\(created.standardError)")
        let before = try Self.usedBytes(small)

        let pull = try await Program.runAwaitingExit(
            "/usr/bin/env", [manta, "pull", "acme/big", "--store", store], environment: environment, inheritingEnvironment: false,
            workingDirectory: work.path)
        #expect(pull.status != 0)
        #expect(pull.standardError.contains("no space left on the device holding the store"), "\(pull.standardError)")
        #expect(pull.standardError.contains("nothing of it was kept"), "\(pull.standardError)")
        let after = try Self.usedBytes(small)
        #expect(after <= before + (1 << 20), "the pull left \(after - min(after, before)) bytes behind")
        #expect(ChunkFiles.list(storeRoot: store).isEmpty)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: "\(store)/partial"))?.isEmpty ?? true)

        let collect = try await Program.runAwaitingExit(
            "/usr/bin/env", [manta, "gc", "--store", store], environment: environment, inheritingEnvironment: false, workingDirectory: work.path)
        #expect(collect.status == 0, "\(collect.standardError)")
        let verify = try await Program.runAwaitingExit(
            "/usr/bin/env", [manta, "verify", "--store", store], environment: environment, inheritingEnvironment: false, workingDirectory: work.path)
        #expect(verify.status == 0, "\(verify.standardOutput)\(verify.standardError)")

        // What fits still pulls: the disk is usable again.
        let one = try await Program.runAwaitingExit(
            "/usr/bin/env",
            [manta, "pull", "acme/big", "--file", "config.json", "--store", store], environment: environment, inheritingEnvironment: false,
            workingDirectory: work.path)
        #expect(one.status == 0, "\(one.standardError)")
    }
}
