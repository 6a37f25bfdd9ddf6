import Foundation
import MantaTestSupport
import Synchronization
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct CrashSafetyTests {
    /// Every chunk file under the store holds bytes that hash to its name.
    static func everyNamedChunkIsIntact(_ root: String) throws -> Bool {
        let store = try Store(root: root)
        for file in ChunkFiles.list(storeRoot: root) {
            guard (try Store.readVerified(file.id, at: .init(path: file.path, encoding: file.encoding))) != nil else { return false }
        }
        _ = store
        return true
    }

    @Test func killingAnImportAtRandomPointsNeverLeavesABadChunkAndAReImportCompletes() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        let source = try Fixtures.syntheticShards()
        var generator = SystemRandomNumberGenerator()
        for round in 0..<6 {
            let process = try MantaProcess.process([
                "import", source, "--repo", "acme/crash", "--store", root, "--compression",
                StoreConfiguration.Compression.allCases[round % 3].rawValue,
            ])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(UInt32.random(in: 20_000...400_000, using: &generator))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()

            let verify = try MantaProcess.run(["verify", "--store", root])
            #expect(verify.succeeded, "round \(round): \(verify.standardOutput)\(verify.standardError)")
            #expect(try Self.everyNamedChunkIsIntact(root), "round \(round)")
            #expect(FileSystem.entries(of: "\(root)/tmp").isEmpty, "recovery removes temporary files")
            #expect(Self.temporaryChunks(root).isEmpty, "recovery removes chunks being written")
        }
        let reimport = try MantaProcess.run(["import", source, "--repo", "acme/crash", "--store", root])
        #expect(reimport.succeeded, "\(reimport.standardError)")
        let export = try MantaProcess.run(["export", "acme/crash", scratch.appending("out"), "--store", root])
        #expect(export.succeeded, "\(export.standardError)")
        #expect(try StoreRoundTripTests.filesAreIdentical(source, scratch.appending("out")))
    }

    @Test func recoveryIndexesChunkFilesTheDatabaseNeverHeardOf() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        do {
            let store = try Store(root: root)
            try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
        }
        let usage = try Store(root: root).usage()
        for suffix in ["", "-wal", "-shm"] { unlink("\(root)/meta.db\(suffix)") }
        _ = FileManager.default.createFile(atPath: "\(root)/tmp/tmp-123-leftover", contents: Data([1, 2, 3]))
        let folder = try #require(FileSystem.entries(of: "\(root)/chunks").first)
        _ = FileManager.default.createFile(
            atPath: "\(root)/chunks/\(folder)/\(Store.temporaryChunkPrefix)tmp-123-leftover", contents: Data([1, 2, 3]))
        let recovered = try Store(root: root)
        #expect(try recovered.usage().uniqueBytes == usage.uniqueBytes)
        #expect(try recovered.usage().chunkCount == usage.chunkCount)
        #expect(FileSystem.entries(of: "\(root)/tmp").isEmpty)
        #expect(Self.temporaryChunks(root).isEmpty)
    }

    /// Chunks being written, in their folders.
    static func temporaryChunks(_ root: String) -> [String] {
        FileSystem.entries(of: "\(root)/chunks").flatMap { folder in
            FileSystem.entries(of: "\(root)/chunks/\(folder)").filter { $0.hasPrefix(Store.temporaryChunkPrefix) }
        }
    }

    /// A store with one model, closed, plus a chunk file its database never heard of (as recovery would find it).
    static func closedStoreWithAnUnindexedChunk(_ scratch: TemporaryDirectory) throws -> (root: String, indexedChunks: Int) {
        let root = scratch.appending("store")
        let indexed: Int
        do {
            let store = try Store(root: root)
            try store.importDirectory(try Fixtures.gguf(), as: try RepoReference(parsing: "acme/gguf"))
            indexed = try store.usage().chunkCount
        }
        let bytes = Array("a chunk written just before a crash".utf8)
        let hex = SHA256Hasher.hash(bytes).hex
        try FileManager.default.createDirectory(atPath: "\(root)/chunks/\(hex.prefix(2))", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: "\(root)/chunks/\(hex.prefix(2))/\(hex)", contents: Data(bytes))
        return (root, indexed)
    }

    /// A running agent on the store at `root`, once it serves its local socket (bounded wait): by then it has
    /// opened the store and handles SIGTERM gracefully.
    static func agentWithTheStoreOpen(_ root: String) throws -> Process {
        let agent = try MantaProcess.process(["agent", "--store", root, "--listen", "127.0.0.1:0"])
        agent.standardOutput = FileHandle.nullDevice
        agent.standardError = FileHandle.nullDevice
        try agent.run()
        try eventuallyBlocking("the agent's socket appears") { FileSystem.exists("\(root)/agent.sock") }
        return agent
    }

    @Test func aStoreThatEveryProcessClosedOpensWithoutARescan() throws {
        let scratch = try TemporaryDirectory()
        let (root, indexed) = try Self.closedStoreWithAnUnindexedChunk(scratch)
        #expect(try Store(root: root).usage().chunkCount == indexed)
        #expect(FileSystem.entries(of: "\(root)/sessions").isEmpty, "a closed store leaves no session behind")
    }

    @Test func aNewStoresSettingsThatACrashLeftEmptyMeanTheDefaultsAndAreWrittenAgain() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        _ = try Store(root: root, changes: .init(chunkSize: 1 << 20))
        // A new store's settings reach the disk beside its database's creation; a power cut before leaves this.
        #expect(truncate("\(root)/config.json", 0) == 0)
        let reopened = try Store(root: root)
        #expect(reopened.configuration == StoreConfiguration())
        #expect(try JSONDecoder().decode(StoreConfiguration.self, from: Data(try FileSystem.readAll("\(root)/config.json"))) == StoreConfiguration())
    }

    @Test func settingsThatAreNotValidJSONAreReportedWithWhatToDo() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        _ = try Store(root: root)
        #expect(chmod("\(root)/config.json", 0o644) == 0)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: "\(root)/config.json"))
        #expect { try Store(root: root) } throws: { error in
            "\(error)".contains("\(root)/config.json is not valid") && "\(error)".contains("fix or delete it")
        }
    }

    @Test func aProcessKilledWithTheStoreOpenMakesTheNextOpenRecover() throws {
        let scratch = try TemporaryDirectory()
        let (root, indexed) = try Self.closedStoreWithAnUnindexedChunk(scratch)
        let holder = try Self.agentWithTheStoreOpen(root)
        kill(holder.processIdentifier, SIGKILL)
        holder.waitUntilExit()
        #expect(FileSystem.entries(of: "\(root)/sessions").count == 1, "the killed agent left its session")

        let reopened = try Store(root: root)
        #expect(try reopened.usage().chunkCount == indexed + 1)
        #expect(FileSystem.entries(of: "\(root)/sessions").count == 1, "only the new session remains")
    }

    @Test func verifyReconcilesChunkFilesAddedOrDeletedBehindTheStoresBack() throws {
        let scratch = try TemporaryDirectory()
        let (root, indexed) = try Self.closedStoreWithAnUnindexedChunk(scratch)
        let store = try Store(root: root)
        let (_, manifest) = try store.requireManifest(try RepoReference(parsing: "acme/gguf"))
        let deleted = try #require(manifest.chunkIDs.first)
        unlink(try #require(store.location(of: deleted)).path)
        let report = try store.verify()
        #expect(try store.usage().chunkCount == indexed, "one chunk found, one forgotten")
        #expect(report.damagedModels.map(\.missing) == [[deleted]])
    }

    @Test func anAgentStoppedGracefullyLeavesNoSessionSoTheNextOpenDoesNotRescan() throws {
        let scratch = try TemporaryDirectory()
        let (root, indexed) = try Self.closedStoreWithAnUnindexedChunk(scratch)
        let agent = try Self.agentWithTheStoreOpen(root)
        #expect(FileSystem.entries(of: "\(root)/sessions").count == 1)
        agent.terminate()
        agent.waitUntilExit()
        #expect(agent.terminationStatus == 0)
        #expect(FileSystem.entries(of: "\(root)/sessions").isEmpty, "the agent closed its session")
        #expect(try Store(root: root).usage().chunkCount == indexed, "no rescan: the chunk added behind the store's back is not indexed")
    }

    @Test func aRebootMakesTheNextOpenRecover() throws {
        let scratch = try TemporaryDirectory()
        let (root, indexed) = try Self.closedStoreWithAnUnindexedChunk(scratch)
        _ = FileManager.default.createFile(atPath: "\(root)/recovered", contents: Data("an earlier boot".utf8))
        #expect(try Store(root: root).usage().chunkCount == indexed + 1)
    }
}

@Suite(.threadsOfItsOwn) struct StoreLockingTests {
    @Test func verifyRefusesClearlyWhileAnAgentKeepsTheStoreOpenAndGCGoesThroughTheAgent() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        try MantaProcess.run(["import", try Fixtures.gguf(), "--repo", "acme/gguf", "--store", root])
        try FileManager.default.createDirectory(atPath: scratch.appending("mnt"), withIntermediateDirectories: true)
        let holder = try MantaProcess.process(["agent", "--store", root, "--listen", "127.0.0.1:0"])
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer {
            holder.terminate()
            holder.waitUntilExit()
        }
        try eventuallyBlocking("the agent listens on its socket") { FileSystem.exists("\(root)/agent.sock") }
        let verify = try MantaProcess.run(["verify", "--store", root])
        #expect(verify.status != 0)
        #expect(verify.standardError.contains("keeps the store at \(root) open"), "\(verify.standardError)")
        let gc = try MantaProcess.run(["gc", "--store", root])
        #expect(gc.succeeded, "\(gc.standardError)")
        #expect(gc.standardOutput.contains("(by the agent on \(root)/agent.sock)"), "\(gc.standardOutput)")
    }

    @Test func twoProcessesThatBothWantTheStoreToThemselvesGetItInTurn() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        try MantaProcess.run(["import", try Fixtures.gguf(), "--repo", "acme/gguf", "--store", root])
        // Both start waiting while this opening holds the store; each held the shared lock too. Had waiting kept
        // it, neither would get the store once this one lets go.
        var holder: Store? = try Store(root: root)
        let results = Mutex<[MantaProcess.Result]>([])
        let waiters = DispatchGroup()
        for command in ["verify", "gc"] {
            DispatchQueue.global().async(group: waiters) {
                let result = try? MantaProcess.run([command, "--store", root])
                results.withLock { $0.append(contentsOf: result.map { [$0] } ?? []) }
            }
        }
        // Each opening makes its session file once it holds the shared lock: then both are in each other's way.
        try eventuallyBlocking("both waiters have the store open beside this one") {
            try FileManager.default.contentsOfDirectory(atPath: "\(root)/sessions").count == 3
        }
        withExtendedLifetime(holder) {}
        holder = nil
        waiters.wait()
        let finished = results.withLock { $0 }
        #expect(finished.count == 2)
        for result in finished { #expect(result.succeeded, "\(result.standardError)") }
    }
}
