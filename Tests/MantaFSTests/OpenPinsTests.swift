import Foundation
import Logging
import MantaStore
import MantaTestSupport
import Testing

@testable import MantaFS

@Suite(.threadsOfItsOwn) struct OpenPinsTests {
    /// A store holding one small model, and the model's manifest.
    static func storeWithOneModel(_ scratch: TemporaryDirectory) throws -> (Store, Digest) {
        let store = try Store(root: scratch.appending("store"))
        let folder = scratch.appending("model")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: "\(folder)/weights.bin"))
        let reference = try RepoReference(parsing: "acme/model")
        try store.importDirectory(folder, as: reference)
        return (store, try #require(try store.resolve(reference)))
    }

    @Test("a model opened again before the unpin delay ends keeps its one pin, which goes a delay after the last close")
    func aModelReopenedWithinTheUnpinDelayStaysPinned() throws {
        let scratch = try TemporaryDirectory()
        let (store, manifest) = try Self.storeWithOneModel(scratch)
        let pins = OpenPins(store: store, logger: Logger(label: "test"), unpinDelay: .seconds(2))
        func pinned() throws -> Bool { try store.pins().contains { $0.manifest == manifest && $0.holder == pins.holder } }
        let start = ContinuousClock.now

        pins.acquire(manifest)
        pins.acquire(manifest)
        #expect(try pinned())
        pins.release(manifest, at: start)
        pins.unpinClosedModels(at: start + .seconds(10))
        #expect(try pinned(), "a file of the model is still open")

        pins.release(manifest, at: start + .seconds(10))
        pins.unpinClosedModels(at: start + .seconds(11))
        #expect(try pinned(), "pinned for the delay after the last close")

        pins.acquire(manifest)
        pins.unpinClosedModels(at: start + .seconds(13))
        #expect(try pinned(), "open again within the delay")

        pins.release(manifest, at: start + .seconds(20))
        pins.unpinClosedModels(at: start + .milliseconds(21_999))
        #expect(try pinned())
        pins.unpinClosedModels(at: start + .seconds(22))
        #expect(try !pinned())
    }

    @Test("a collection asked for now unpins a closed model at once and keeps an open one pinned")
    func closedModelsAreUnpinnedAtOnceForACollection() throws {
        let scratch = try TemporaryDirectory()
        let (store, manifest) = try Self.storeWithOneModel(scratch)
        let pins = OpenPins(store: store, logger: Logger(label: "test"), unpinDelay: .seconds(2))
        func pinned() throws -> Bool { try store.pins().contains { $0.manifest == manifest && $0.holder == pins.holder } }

        pins.acquire(manifest)
        pins.unpinClosedModels(closedFor: .zero)
        #expect(try pinned(), "open")
        pins.release(manifest)
        pins.unpinClosedModels(closedFor: .zero)
        #expect(try !pinned())
    }

    @Test("unmounting unpins the models whose unpin delay is still running")
    func releasingEverythingUnpinsModelsWithinTheirDelay() throws {
        let scratch = try TemporaryDirectory()
        let (store, manifest) = try Self.storeWithOneModel(scratch)
        let pins = OpenPins(store: store, logger: Logger(label: "test"), unpinDelay: .seconds(2))

        pins.acquire(manifest)
        pins.release(manifest)
        pins.releaseAll()
        #expect(try !store.pins().contains { $0.holder == pins.holder })
    }
}
