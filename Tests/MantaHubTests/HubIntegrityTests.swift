import Foundation
import MantaStore
import MantaTestSupport
import Testing

@testable import MantaHub

/// Files the hub gives no SHA-256 for (configs, tokenizers, remote code) are held to its git blob id: `hub serve`
/// gives git's ids, a pull records and checks them, and verify rechecks them.
@Suite(.threadsOfItsOwn) struct HubIntegrityTests {
    @Test func gitBlobIDsAreThoseGitComputes() {
        #expect(GitBlobHasher.blobID(of: []) == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")
        #expect(GitBlobHasher.blobID(of: Array("hello world\n".utf8)) == "3b18e512dba79e4c8300dd08aeb37f8e728b8dad")
        #expect(GitBlobHasher.isValid("3b18e512dba79e4c8300dd08aeb37f8e728b8dad"))
        #expect(!GitBlobHasher.isValid("3B18E512DBA79E4C8300DD08AEB37F8E728B8DAD"))
    }

    static func gitHashObject(_ path: String, in directory: TemporaryDirectory) async throws -> String {
        let result = try await Program.runAwaitingExit(
            "/usr/bin/env",
            ["git", "hash-object", "--no-filters", path], environment: ProcessInfo.processInfo.environment, inheritingEnvironment: false,
            workingDirectory: directory.path
        )
        return result.standardOutput.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func hubServeGivesGitsBlobIDOfEachFileAndOfEachLFSPointer() async throws {
        let folder = try Fixtures.realModel()
        try await withPullHub(["acme/real": folder]) { hub in
            let snapshot = try await hub.client().snapshot(of: HubModelReference("acme/real"))
            #expect(snapshot.files.contains { $0.lfs == nil } && snapshot.files.contains { $0.lfs != nil })
            for file in snapshot.files {
                var path = folder + "/" + file.path
                if let lfs = file.lfs {
                    path = hub.directory.appending("pointer")
                    let pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:\(lfs.sha256.hex)\nsize \(file.size)\n"
                    try Data(pointer.utf8).write(to: URL(fileURLWithPath: path))
                }
                #expect(file.blobID == (try await Self.gitHashObject(path, in: hub.directory)), "\(file.path)")
            }
        }
    }

    @Test func aPullRecordsBlobIDsAndVerifyFindsAPlainFileChangedWithItsChunksAndManifest() async throws {
        let folder = try Fixtures.syntheticShards()
        try await withPullHub(["acme/shards": folder]) { hub in
            let store = try await hub.openStore()
            let reference = try HubModelReference("acme/shards")
            let pulled = try await ModelPuller(store: store, client: try hub.client()).pull(reference)
            let snapshot = try await hub.client().snapshot(of: reference)
            for file in pulled.manifest.files {
                let hubFile = try #require(snapshot.file(at: file.path))
                #expect(file.gitBlobID == (hubFile.lfs == nil ? hubFile.blobID : nil), "\(file.path)")
            }

            let original = try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/config.json")))
            let storeReference = try ModelPuller.storeReference(for: reference)
            _ = try await blocking { try TamperedModel.change("config.json", original: original, of: storeReference, in: store) }
            let report = try await blocking { try store.verify() }
            #expect(!report.isClean)
            #expect(report.corruptChunks.isEmpty, "every chunk still hashes to its id")
            #expect(report.changedFiles.map(\.path) == ["config.json"])
            #expect(report.changedFiles.first?.expected == snapshot.file(at: "config.json")?.blobID)

            let again = try await ModelPuller(store: store, client: try hub.client()).pull(reference)
            #expect(!again.upToDate)
            let exported = hub.directory.appending("export")
            try await blocking { try store.export(storeReference, to: exported) }
            #expect(try Data(contentsOf: URL(fileURLWithPath: exported + "/config.json")) == Data(original))
            #expect(try await blocking { try store.verify() }.isClean)
        }
    }

    @Test func aModelAddedFromMetadataRecordsTheBlobIDsOfItsSmallFilesAndIsCompleteAfter() async throws {
        try await withPullHub(["acme/shards": try Fixtures.syntheticShards()]) { hub in
            let store = try await hub.openStore()
            let reference = try HubModelReference("acme/shards")
            let registrar = LazyRegistrar(store: store, client: try hub.client())
            let added = try await registrar.add(reference, filename: "config.json")
            let manifest = try store.manifest(try #require(added.manifest))
            let snapshot = try await hub.client().snapshot(of: reference)
            #expect(manifest.file(at: "config.json")?.gitBlobID == snapshot.file(at: "config.json")?.blobID)
            let again = try await registrar.add(reference, filename: "config.json")
            #expect(again.bytesDownloaded == 0 && again.manifest == added.manifest, "a complete model is not registered again")
        }
    }

    @Test func aHubServingOtherBytesThanItsBlobIDFailsThePullAndKeepsNothing() async throws {
        let config = Array(#"{"model_type": "bert"}"#.utf8)
        let hub = try HostileHub { path, _ in
            if let info = HostileHub.modelInfo(path) { return info }
            if path.contains("/tree/") { return .json("[" + HostileHub.entry("config.json", size: "\(config.count)") + "]") }
            return HostileHub.Answer(body: config)
        }
        defer { hub.close() }
        let outcome = try await HostileHubTests.pull(from: hub)
        try HostileHubTests.expectRefused(outcome, saying: ["config.json", "git blob id", GitBlobHasher.blobID(of: config)])
        #expect(try outcome.store.verify().isClean)
    }
}
