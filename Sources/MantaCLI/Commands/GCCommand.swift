import ArgumentParser
import MantaCLISupport
import MantaStore

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Delete unused manifests and chunks; above the quota's high watermark, evict least recently used chunks of unpinned models down to the low watermark."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Flag(name: .customLong("dry-run"), help: "Show what would go; delete nothing.")
    var dryRun = false

    @Option(help: "Byte quota for the chunks, e.g. 50GiB (saved as the store's setting; 0 removes it).")
    var quota: ByteCount?

    func run() throws {
        let store = try storeOptions.open(changes: StoreConfigurationChanges(quotaBytes: quota?.bytes))
        let plan = try store.collectGarbage(dryRun: dryRun)
        let verb = dryRun ? "would delete" : "deleted"
        for manifest in plan.manifests { print("\(verb) manifest \(manifest)") }
        for chunk in plan.chunks { print("\(verb) chunk \(chunk)") }
        print("\(verb) \(plan.manifests.count) manifests and \(plan.chunks.count) chunks, freeing \(ByteCount.format(plan.freedBytes)) of \(ByteCount.format(plan.storedBytesBefore))")
        if plan.quotaUnmet {
            print("warning: the quota cannot be met: everything left belongs to pinned models (`manta unpin` releases one)")
        }
    }
}
