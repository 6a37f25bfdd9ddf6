import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct BadInputTests {
    @Test(arguments: [
        ("../evil", "'..' are not allowed"), ("org/..", "'..' are not allowed"), ("/abs/path", "org/name"), ("org//name", "org/name"),
        ("org/", "org/name"), ("just-a-name", "org/name"), ("org/na me", "letters, digits"), ("org/.hidden", "'.'"),
    ])
    func invalidRepositoryNamesAreRejectedWithTheReason(name: String, expected: String) throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(["import", try Fixtures.gguf(), "--repo", name, "--store", scratch.path])
        #expect(result.status != 0)
        #expect(result.standardError.contains(expected), "\(result.standardError)")
        #expect(FileSystem.entries(of: scratch.path + "/refs").isEmpty)
    }

    @Test func invalidRevisionsAreRejected() throws {
        for revision in ["../x", "a//b", "", "/main"] {
            #expect(throws: RepoReferenceError.invalidRevision(revision)) { try RepoReference(organization: "a", name: "b", revision: revision) }
        }
    }

    @Test func aMissingFolderIsNamed() throws {
        let scratch = try TemporaryDirectory()
        let result = try MantaProcess.run(["import", scratch.appending("nope"), "--repo", "a/b", "--store", scratch.appending("store")])
        #expect(result.status != 0)
        #expect(result.standardError.contains("\(scratch.appending("nope")) does not exist"))
        #expect(!FileSystem.exists(scratch.appending("store")), "no store is created for an import that cannot start")
    }

    @Test func aFileInsteadOfAFolderIsNamed() throws {
        let scratch = try TemporaryDirectory()
        _ = FileManager.default.createFile(atPath: scratch.appending("file"), contents: Data([1]))
        let result = try MantaProcess.run(["import", scratch.appending("file"), "--repo", "a/b", "--store", scratch.appending("store")])
        #expect(result.standardError.contains("is not a folder"))
        #expect(!FileSystem.exists(scratch.appending("store")))
    }

    @Test func aNonRegularFileIsNamedAndNothingIsImported() throws {
        let scratch = try TemporaryDirectory()
        let source = scratch.appending("src")
        try FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(source)/a.txt", contents: Data("hello".utf8))
        #expect(mkfifo("\(source)/pipe", 0o644) == 0)
        let result = try MantaProcess.run(["import", source, "--repo", "a/b", "--store", scratch.appending("store")])
        #expect(result.status != 0)
        #expect(result.standardError.contains("\(source)/pipe is not a regular file"))
        #expect(FileSystem.entries(of: scratch.appending("store/refs")).isEmpty)
    }

    @Test func aReadOnlyStoreIsReportedAsNotWritable() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        try MantaProcess.run(["import", try Fixtures.gguf(), "--repo", "a/b", "--store", root])
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["--bind", "-o", "ro", root, root]
        try mount.run()
        mount.waitUntilExit()
        try #require(mount.terminationStatus == 0, "bind-mounting the store read-only needs root")
        defer { _ = try? Program.run("/bin/umount", [root]) }
        let result = try MantaProcess.run(["import", try Fixtures.syntheticShards(), "--repo", "c/d", "--store", root])
        #expect(result.status != 0)
        #expect(result.standardError.contains("is not writable"), "\(result.standardError)")
        _ = try Program.run("/bin/umount", [root])
        let verify = try MantaProcess.run(["verify", "--store", root])
        #expect(verify.succeeded, "\(verify.standardOutput)")
    }

    @Test func aFullDiskFailsClearlyAndLeavesTheStoreConsistent() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try #require(try Program.run("/bin/mount", ["-t", "tmpfs", "-o", "size=24m", "tmpfs", root]).succeeded, "mounting a tmpfs needs root")
        defer { _ = try? Program.run("/bin/umount", ["-l", root]) }
        let small = try MantaProcess.run(["import", try Fixtures.gguf(), "--repo", "acme/small", "--store", root])
        #expect(small.succeeded, "\(small.standardError)")
        let big = try MantaProcess.run(["import", try Fixtures.syntheticShards(), "--repo", "acme/big", "--store", root])
        #expect(big.status != 0)
        #expect(big.standardError.contains("no space left"), "\(big.standardError)")
        // Before `verify`, whose recovery would remove them: the failed import removed its own.
        #expect(CrashSafetyTests.temporaryChunks(root).isEmpty, "chunks the failed import was writing are gone")
        #expect(FileSystem.entries(of: "\(root)/tmp").isEmpty)
        let verify = try MantaProcess.run(["verify", "--store", root])
        #expect(verify.succeeded, "\(verify.standardOutput)")
        let list = try MantaProcess.run(["ls", "--store", root])
        #expect(list.standardOutput.contains("acme/small"))
        #expect(!list.standardOutput.contains("acme/big"))
        #expect(FileSystem.entries(of: "\(root)/tmp").isEmpty, "temporary files of the failed import are gone")
        let export = try MantaProcess.run(["export", "acme/small", scratch.appending("out"), "--store", root])
        #expect(export.succeeded)
        #expect(try StoreRoundTripTests.filesAreIdentical(try Fixtures.gguf(), scratch.appending("out")))
    }

    @Test func aDatabaseThatCannotBeCreatedFailsTheImportAndKeepsNothingOfIt() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        // A new store's database is created beside the import's hashing; a folder where SQLite puts its journal
        // makes that creation fail after the store opened.
        try FileManager.default.createDirectory(atPath: root + "/meta.db-journal", withIntermediateDirectories: true)
        let failed = try MantaProcess.run(["import", try Fixtures.syntheticShards(), "--repo", "acme/model", "--store", root])
        #expect(failed.status != 0)
        #expect(failed.standardError.contains("metadata database ") && failed.standardError.contains("store/meta.db"), "\(failed.standardError)")
        #expect(CrashSafetyTests.temporaryChunks(root).isEmpty, "chunks the failed import was writing are gone")
        #expect(FileSystem.entries(of: "\(root)/refs").isEmpty)

        try FileManager.default.removeItem(atPath: root + "/meta.db-journal")
        let retried = try MantaProcess.run(["import", try Fixtures.syntheticShards(), "--repo", "acme/model", "--store", root])
        #expect(retried.succeeded, "\(retried.standardError)")
        let verify = try MantaProcess.run(["verify", "--store", root])
        #expect(verify.succeeded, "\(verify.standardOutput)")
    }

    @Test func aProcessThatCannotStartThreadsFailsClearlyAndKeepsNothing() throws {
        // Root is exempt from the thread limit, so the import runs as an unprivileged user allowed one task: itself.
        // It gets copies of the binary and the model, as the clone's folders may be closed to other users.
        let scratch = try TemporaryDirectory()
        #expect(chmod(scratch.path, 0o755) == 0)
        let binary = scratch.appending("manta")
        try MantaProcess.copyBinary(to: binary)
        let source = scratch.appending("model")
        try FileManager.default.copyItem(atPath: try Fixtures.syntheticShards(), toPath: source)
        let root = scratch.appending("store")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: false)
        let user: uid_t = 64123
        #expect(chown(root, user, user) == 0)
        let limited = try MantaProcess.run(
            [
                "--nproc=1", "/usr/bin/setpriv", "--reuid=\(user)", "--regid=\(user)", "--clear-groups", binary, "import", source, "--repo",
                "acme/model", "--store", root,
            ],
            executable: "/usr/bin/prlimit"
        )
        #expect(limited.status != 0)
        #expect(
            limited.standardError.contains("cannot start a worker thread") && limited.standardError.contains("pids.max"), "\(limited.standardError)")
        #expect(CrashSafetyTests.temporaryChunks(root).isEmpty, "chunks the failed import was writing are gone")
        #expect(FileSystem.entries(of: "\(root)/refs").isEmpty)

        let retried = try MantaProcess.run(["import", source, "--repo", "acme/model", "--store", root])
        #expect(retried.succeeded, "\(retried.standardError)")
        let verify = try MantaProcess.run(["verify", "--store", root])
        #expect(verify.succeeded, "\(verify.standardOutput)")
    }
}
