import ArgumentParser
import MantaCLISupport
import MantaStore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

struct DiskUsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du",
        abstract: "Logical bytes of all models against the bytes stored, the dedup ratio, and the quota: what eviction could free and what is held."
    )

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let usage = try store.usage()
        print("models    \(usage.modelCount)")
        print("logical   \(ByteCount.format(usage.logicalBytes))  (\(usage.logicalBytes) bytes)")
        print("unique    \(ByteCount.format(usage.uniqueBytes))  (\(usage.uniqueBytes) bytes in \(usage.chunkCount) chunks)")
        print("stored    \(ByteCount.format(usage.storedBytes))  (\(usage.storedBytes) bytes)")
        print("dedup     \(usage.dedupRatio.fixedPoint(2))x")
        let copies = store.passthroughCopies()
        let copyBytes = copies.reduce(0) { $0 + $1.bytes }
        print(
            "passthrough \(ByteCount.format(copyBytes))  (\(copyBytes) bytes in \(copies.count) copies the mount reads complete files from; counted against the quota, evicted first)"
        )
        if let quota = store.configuration.quotaBytes {
            let space = try store.spaceReport()
            let high = store.configuration.highWatermark
            let low = store.configuration.lowWatermark
            print("quota     \(ByteCount.format(quota))  (evicting above \((high * 100).fixedPoint(0))%, down to \((low * 100).fixedPoint(0))%)")
            print("evictable \(ByteCount.format(space.evictableBytes))  (\(space.evictableBytes) bytes: models nothing holds, and garbage)")
            print("held      \(ByteCount.format(space.heldBytes))  (\(space.holds.count) models pinned, open, published or replicated)")
        }
    }
}
