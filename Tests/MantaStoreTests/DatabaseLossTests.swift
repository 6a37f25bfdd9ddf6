import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

#if canImport(Glibc)
import Glibc
#endif

/// `meta.db` is an index of the store's files: lost or damaged, it is rebuilt from them, pins included, by the
/// first command or agent that has the store to itself.
@Suite(.threadsOfItsOwn) struct DatabaseLossTests {
    enum Damage: String, CaseIterable, CustomStringConvertible {
        case deleted, garbage, truncated, emptied

        var description: String { rawValue }

        func apply(to root: String) throws {
            let path = "\(root)/meta.db"
            switch self {
            case .deleted:
                #expect(unlink(path) == 0)
            case .garbage:
                var generator = SystemRandomNumberGenerator()
                try Data((0..<65_536).map { _ in UInt8.random(in: 0...255, using: &generator) }).write(to: URL(fileURLWithPath: path))
            case .truncated:
                var information = stat()
                #expect(stat(path, &information) == 0)
                #expect(truncate(path, information.st_size / 2) == 0)
            case .emptied:
                #expect(truncate(path, 0) == 0)
            }
        }

        /// Whether the first opener finds a file to move aside.
        var leavesAFileAside: Bool { self == .garbage || self == .truncated }
    }

    static let pinned = "acme/gguf@main"
    static let unpinned = "acme/edited@main"

    /// A closed store holding a pinned local import (pinned by the import and by `manta pin`) and an unpinned one.
    static func closedStore(_ scratch: TemporaryDirectory) throws -> String {
        let root = scratch.appending("store")
        let store = try Store(root: root)
        try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: pinned))
        try store.pin(try RepoReference(parsing: pinned))
        try store.importDirectory(try Fixtures.ggufEdited(), as: try RepoReference(parsing: unpinned))
        try store.unpin(try RepoReference(parsing: unpinned))
        // Every row on disk in the database's main file, as an orderly shutdown long ago would have left it.
        try store.database.withConnection { try $0.execute("PRAGMA wal_checkpoint(TRUNCATE)") }
        return root
    }

    static func lastingPins(_ root: String) throws -> Set<String> {
        Set(try Store(root: root).pins().map { "\($0.manifest.hex) \($0.holder)" })
    }

    @Test(arguments: Damage.allCases)
    func everyStoreCommandComesUpAndPinsSurvive(_ damage: Damage) throws {
        let scratch = try TemporaryDirectory()
        let root = try Self.closedStore(scratch)
        let pinsBefore = try Self.lastingPins(root)
        #expect(pinsBefore.count == 2)
        try damage.apply(to: root)

        let list = try MantaProcess.run(["ls", "--store", root])
        #expect(list.succeeded, "\(list.standardError)")
        #expect(list.standardOutput.contains("acme/gguf") && list.standardOutput.contains("acme/edited"), "\(list.standardOutput)")
        #expect(list.standardError.contains("rebuil"), "one line says the database is rebuilt: \(list.standardError)")
        let aside = FileSystem.entries(of: root).filter { $0.hasPrefix("meta.db.corrupt-") && !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }
        #expect(aside.count == (damage.leavesAFileAside ? 1 : 0), "\(FileSystem.entries(of: root))")
        #expect(try Self.lastingPins(root) == pinsBefore)

        let verify = try MantaProcess.run(["verify", "--store", root])
        #expect(verify.succeeded, "\(verify.standardOutput)\(verify.standardError)")
        for command in [["du"], ["inspect", Self.pinned], ["pin", Self.pinned], ["gc", "--dry-run"]] {
            let result = try MantaProcess.run(command + ["--store", root])
            #expect(result.succeeded, "\(command): \(result.standardError)")
        }

        let collect = try MantaProcess.run(["gc", "--quota", "1KiB", "--store", root])
        #expect(collect.succeeded, "\(collect.standardError)")
        let store = try Store(root: root)
        let (_, kept) = try store.requireManifest(try RepoReference(parsing: Self.pinned))
        #expect(kept.chunkIDs.allSatisfy(store.contains), "the pinned import kept every chunk")
        #expect(try store.resolve(try RepoReference(parsing: Self.unpinned)) == nil, "the quota evicted the unpinned import")
        let export = try MantaProcess.run(["export", Self.pinned, scratch.appending("out"), "--store", root])
        #expect(export.succeeded, "\(export.standardError)")
        #expect(try StoreRoundTripTests.filesAreIdentical(try Fixtures.gguf(), scratch.appending("out")))
    }

    @Test(arguments: Damage.allCases)
    func theAgentComesUpAndRebuildsTheDatabase(_ damage: Damage) throws {
        let scratch = try TemporaryDirectory()
        let root = try Self.closedStore(scratch)
        let pinsBefore = try Self.lastingPins(root)
        try damage.apply(to: root)

        let logPath = scratch.appending("agent.log")
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        let agent = try MantaProcess.process(["agent", "--store", root, "--listen", "127.0.0.1:0"])
        agent.standardOutput = FileHandle(forWritingAtPath: logPath)
        agent.standardError = FileHandle(forWritingAtPath: logPath)
        try agent.run()
        defer { if agent.isRunning { kill(agent.processIdentifier, SIGKILL) } }
        try eventuallyBlocking("the agent exits or listens") { !agent.isRunning || FileSystem.exists("\(root)/agent.sock") }
        let log = { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        #expect(agent.isRunning && FileSystem.exists("\(root)/agent.sock"), "the agent is up: \(log())")
        agent.terminate()
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0, "\(log())")
        #expect(log().contains("rebuil"), "\(log())")
        #expect(try Self.lastingPins(root) == pinsBefore)
    }

    @Test func aDamagedDatabaseThatAnotherProcessHoldsOpenIsReportedWithWhatToDo() throws {
        let scratch = try TemporaryDirectory()
        let root = try Self.closedStore(scratch)
        let holder = try Store(root: root)
        try Damage.garbage.apply(to: root)
        let list = try MantaProcess.run(["ls", "--store", root])
        #expect(!list.succeeded)
        #expect(list.standardError.contains("is damaged") && list.standardError.contains("stop every manta process"), "\(list.standardError)")
        _ = holder
    }

    @Test func aPinWhoseRowWasLostIsRestoredByRecoveryAndAnUnpinWhoseFileWentIsCompleted() throws {
        let scratch = try TemporaryDirectory()
        let root = try Self.closedStore(scratch)
        let pinsBefore = try Self.lastingPins(root)
        let store = try Store(root: root)
        let (digest, _) = try store.requireManifest(try RepoReference(parsing: Self.pinned))
        // A crash between a pin's file and its row, and between an unpin's file and its row.
        try store.database.unpin(digest, holder: Store.userHolder(try RepoReference(parsing: Self.pinned)))
        try store.writePinFile(digest, holder: "replication:stale", durable: true)
        unlink(store.pinPath(digest, holder: "replication:stale"))
        try store.database.pin(digest, holder: "replication:stale")
        try store.recover()
        #expect(try Self.lastingPins(root) == pinsBefore)
    }
}
