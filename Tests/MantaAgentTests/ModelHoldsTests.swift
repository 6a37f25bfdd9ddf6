import Foundation
import MantaStore
import MantaTestSupport
import Testing

@testable import MantaAgent

/// What the CSI node plugin holds through `AgentService.holds` is never evicted, and goes back to eviction once released.
@Suite struct ModelHoldsTests {
    @Test func aModelHeldForAVolumeStaysUntilTheVolumeReleasesIt() async throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        var references: [RepoReference] = []
        for (index, name) in ["a", "b", "c"].enumerated() {
            let folder = scratch.appending(name)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(repeating: UInt8(index + 1), count: 100_000).write(to: URL(fileURLWithPath: "\(folder)/weights.bin"))
            let reference = try RepoReference(parsing: "acme/\(name)")
            try store.importDirectory(folder, as: reference)
            try store.releaseImportPin(of: reference)
            references.append(reference)
        }
        let holds = ModelHolds(store: store)
        try await holds.hold(references[0], volume: "pvc-1")
        #expect(try await holds.volumes().keys.sorted() == ["pvc-1"])
        #expect(try store.spaceReport().holds.map(\.holders) == [["volume:pvc-1"]])

        // 300 kB stored, quota 250 kB: one model must go; a is the least recently used but held, so b goes.
        let first = try store.collectGarbage(dryRun: false, quotaBytes: 250_000)
        #expect(first.evicted.map(\.reference) == [references[1]])

        try await holds.release(volume: "pvc-1")
        #expect(try await holds.volumes().isEmpty)
        let second = try store.collectGarbage(dryRun: false, quotaBytes: 150_000)
        #expect(second.evicted.map(\.reference) == [references[0]])
        #expect(try store.references().map(\.reference) == [references[2]])
    }

    @Test func holdingAModelTheStoreLacksSaysSo() async throws {
        let scratch = try TemporaryDirectory()
        let holds = ModelHolds(store: try Store(root: scratch.appending("store")))
        let error = await #expect(throws: StoreError.self) {
            try await holds.hold(try RepoReference(parsing: "acme/none"), volume: "pvc-2")
        }
        #expect(error?.description.contains("acme/none@main") == true, "\(String(describing: error))")
    }
}
