import Foundation
import Logging
import MantaStore
import MantaTestSupport
import Testing

@testable import MantaFS

@Suite(.threadsOfItsOwn) struct OpenPinsTests {
    /// One small model in a store of its own, and the mount's pins (unpin delay 2 s) on it.
    struct Fixture {
        let scratch: TemporaryDirectory
        let store: Store
        let manifest: Digest
        let pins: OpenPins

        init() throws {
            scratch = try TemporaryDirectory()
            store = try Store(root: scratch.appending("store"))
            let folder = scratch.appending("model")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: "\(folder)/weights.bin"))
            let reference = try RepoReference(parsing: "acme/model")
            try store.importDirectory(folder, as: reference)
            manifest = try #require(try store.resolve(reference))
            pins = OpenPins(store: store, logger: Logger(label: "test"), unpinDelay: .seconds(2))
        }

        var pinned: Bool { get throws { try store.pins().contains { $0.manifest == manifest && $0.holder == pins.holder } } }
    }

    @Test("a model opened again before the unpin delay ends keeps its one pin, which goes a delay after the last close")
    func aModelReopenedWithinTheUnpinDelayStaysPinned() throws {
        let fixture = try Fixture()
        let (pins, manifest) = (fixture.pins, fixture.manifest)
        let start = ContinuousClock.now

        pins.acquire(manifest)
        pins.acquire(manifest)
        #expect(try fixture.pinned)
        pins.release(manifest, at: start)
        pins.unpinClosedModels(at: start + .seconds(10))
        #expect(try fixture.pinned, "a file of the model is still open")

        pins.release(manifest, at: start + .seconds(10))
        pins.unpinClosedModels(at: start + .seconds(11))
        #expect(try fixture.pinned, "pinned for the delay after the last close")

        pins.acquire(manifest)
        pins.unpinClosedModels(at: start + .seconds(13))
        #expect(try fixture.pinned, "open again within the delay")

        pins.release(manifest, at: start + .seconds(20))
        pins.unpinClosedModels(at: start + .milliseconds(21_999))
        #expect(try fixture.pinned)
        pins.unpinClosedModels(at: start + .seconds(22))
        #expect(try !fixture.pinned)
    }

    @Test("a collection asked for now unpins a closed model at once and keeps an open one pinned")
    func closedModelsAreUnpinnedAtOnceForACollection() throws {
        let fixture = try Fixture()
        let (pins, manifest) = (fixture.pins, fixture.manifest)

        pins.acquire(manifest)
        pins.unpinClosedModels(closedFor: .zero)
        #expect(try fixture.pinned, "open")
        pins.release(manifest)
        pins.unpinClosedModels(closedFor: .zero)
        #expect(try !fixture.pinned)
    }

    @Test("unmounting unpins the models whose unpin delay is still running")
    func releasingEverythingUnpinsModelsWithinTheirDelay() throws {
        let fixture = try Fixture()
        let (pins, manifest) = (fixture.pins, fixture.manifest)

        pins.acquire(manifest)
        pins.release(manifest)
        pins.releaseAll()
        #expect(try !fixture.pinned)
    }
}
