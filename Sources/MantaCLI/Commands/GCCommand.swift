import ArgumentParser
import MantaCLISupport
import MantaStore

struct GCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract:
            "Delete unused manifests and chunks; above the quota's high watermark, evict the least recently used models nothing holds down to the low watermark.",
        discussion: "With an agent running on the store, the agent collects, in between its pulls (the store stays mounted)."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Flag(name: .customLong("dry-run"), help: "Show what would go; delete nothing.")
    var dryRun = false

    @Option(help: "Byte quota for the chunks, e.g. 50GiB (saved as the store's setting; 0 removes it).")
    var quota: ByteCount?

    @Option(help: ArgumentHelp("The socket of the agent that owns the store (default: <store>/agent.sock).", valueName: "path"))
    var socket: String?

    /// What the agent's `LocalGCRequest` (MantaAgent) decodes.
    struct Request: Encodable {
        var dryRun: Bool
    }

    func run() throws {
        // Asked before the store is opened: this process's shared lock would keep the agent from collecting.
        if let agent = AgentSocket.listening(at: socket ?? AgentSocket.defaultPath(storeRoot: storeOptions.store ?? Store.defaultRoot)) {
            guard quota == nil else {
                throw ValidationError("an agent runs on this store (\(agent.path)): set its quota with `manta agent --quota`, not `manta gc --quota`")
            }
            report(try agent.post("/v1/local/gc", json: Request(dryRun: dryRun), as: Store.GCPlan.self), by: "the agent on \(agent.path)")
            return
        }
        let store = try storeOptions.open(changes: StoreConfigurationChanges(quotaBytes: quota?.bytes))
        report(try store.collectGarbage(dryRun: dryRun), by: nil)
    }

    private func report(_ plan: Store.GCPlan, by collector: String?) {
        let verb = dryRun ? "would delete" : "deleted"
        for copy in plan.passthroughCopies { print("\(verb) passthrough copy \(copy.digest) (frees \(ByteCount.format(copy.bytes)))") }
        for model in plan.evicted {
            print(
                "\(dryRun ? "would evict" : "evicted") \(model.lazy ? "lazily added " : "")\(model.reference) (frees \(ByteCount.format(model.freedBytes)))"
            )
        }
        for manifest in plan.manifests { print("\(verb) manifest \(manifest)") }
        for chunk in plan.chunks { print("\(verb) chunk \(chunk)") }
        print(
            "\(verb) \(plan.manifests.count) manifests and \(plan.chunks.count) chunks\(plan.passthroughCopies.isEmpty ? "" : " and \(plan.passthroughCopies.count) passthrough copies"), freeing \(ByteCount.format(plan.freedBytes)) of \(ByteCount.format(plan.storedBytesBefore + plan.passthroughBytesBefore))\(collector.map { " (by \($0))" } ?? "")"
        )
        if plan.quotaUnmet {
            print(
                "warning: the quota cannot be met: everything left is held (pinned, open through a mount, published to a pod, or a Replication's); `manta unpin` releases a pin"
            )
        }
    }
}
