import ArgumentParser
import MantaCLISupport
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MantaStore

struct DiskUsageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du",
        abstract: "Logical bytes of all models against the bytes stored, and the dedup ratio."
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
        if let quota = store.configuration.quotaBytes {
            print("quota     \(ByteCount.format(quota))")
        }
    }
}
