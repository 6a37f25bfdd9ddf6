import ArgumentParser
import Foundation
import MantaAgent
import MantaCLISupport
import MantaHub
import MantaStore

struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.pull.rawValue,
        abstract: NetworkCommand.pull.abstract,
        discussion: "A second pull of the same commit only checks the revision. HF_TOKEN (or the token file) authenticates."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The model and revision (default: main).", valueName: "org/name[@rev]"))
    var model: String

    @Option(help: ArgumentHelp("Pull only this file of the repository.", valueName: "path"))
    var file: String?

    @OptionGroup var hubOptions: HubOptions

    @Option(help: "Parallel requests to the hub.")
    var concurrency: Int = ModelPuller.defaultConcurrency

    @OptionGroup var agentSocket: AgentSocketOptions

    @Flag(name: .customLong("no-pin"), help: "Leave the model unpinned, so a store over its quota may evict it (the agent's --quota).")
    var noPin = false

    func validate() throws {
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1...64, not \(concurrency)") }
    }

    func run() async throws {
        returnLargeAllocationsToTheSystem()
        let reference = try parseHubReference(model)
        if let agent = agentSocket.agent(for: storeOptions) {
            try await pull(through: agent)
            return
        }
        let client = HubClient(configuration: try await hubOptions.configuration())
        let storeOptions = storeOptions
        let store = try await onThread { try storeOptions.open() }
        let puller = ModelPuller(store: store, client: client, concurrency: concurrency)

        let bar = ProgressBar(label: "pulling \(reference)")
        let started = Date()
        let summary = try await puller.pull(reference, filename: file) { progress in
            bar.set(progress.completedBytes, of: progress.totalBytes)
        }
        bar.finish()
        if noPin { try await onThread { try store.releaseImportPin(of: summary.reference) } }
        let commit = summary.manifest.source.commit
        if summary.upToDate {
            print("\(summary.reference) is up to date (commit \(commit), manifest \(summary.digest))")
            return
        }
        let seconds = max(Date().timeIntervalSince(started), 0.001)
        print("pulled \(summary.reference) (commit \(commit)) as \(summary.digest)")
        print(
            "  \(summary.manifest.files.count) files, \(ByteCount.format(summary.manifest.logicalSize)); "
                + "downloaded \(ByteCount.format(summary.bytesDownloaded)) in \(String(format: "%.1f", seconds)) s "
                + "(\(ByteCount.format(UInt64(Double(summary.bytesDownloaded) / seconds)))/s); \(summary.chunksWritten) new chunks"
        )
        for warning in summary.warnings { print("  warning: \(warning)") }
    }

    /// The agent owning the store pulls (peers first, with its own hub settings); this only shows progress.
    private func pull(through agent: LocalAgentClient) async throws {
        if hubOptions.endpoint != nil {
            print("note: --endpoint is ignored: the agent on \(agent.socketPath) pulls from the hub it was started with")
        }
        let bar = ProgressBar(label: "pulling \(model) through the agent")
        let outcome = try await agent.pull(LocalModelRequest(model: model, file: file, pin: !noPin)) { done, total in bar.set(done, of: total) }
        bar.finish()
        if outcome.upToDate {
            print("\(outcome.reference) is up to date (commit \(outcome.commit), manifest \(outcome.digest))")
            return
        }
        print("pulled \(outcome.reference) (commit \(outcome.commit)) as \(outcome.digest) through the agent on \(agent.socketPath)")
        print("  \(outcome.files) files, \(ByteCount.format(outcome.logicalBytes)); \(outcome.chunksWritten) new chunks")
        for warning in outcome.warnings { print("  warning: \(warning)") }
    }
}
