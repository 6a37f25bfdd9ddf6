import ArgumentParser
import Foundation
import MantaAgent
import MantaCLISupport
import MantaHub
import MantaStore

struct AddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.add.rawValue,
        abstract: NetworkCommand.add.abstract,
        discussion: """
            Reads the model's file list and each weights file's header (ranged requests), and records the chunk layout \
            and the hub (mounts fetch from it unless given another) \
            with the hub's SHA-256 of every file; small files without an LFS digest are read whole. No weights are \
            downloaded. A running `manta mount` shows the model within a second; when every file has been read and \
            checked, the model becomes a normal, pinned model (`manta verify`, `export`, `ls`).
            """
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The model and revision (default: main).", valueName: "org/name[@rev]"))
    var model: String

    @Option(help: ArgumentHelp("Register only this file of the repository.", valueName: "path"))
    var file: String?

    @OptionGroup var hubOptions: HubOptions

    @OptionGroup var agentSocket: AgentSocketOptions

    func run() async throws {
        let reference = try parseHubReference(model)
        if let agent = agentSocket.agent(for: storeOptions) {
            if hubOptions.endpoint != nil {
                print("note: --endpoint is ignored: the agent on \(agent.socketPath) adds from the hub it was started with")
            }
            let outcome = try await agent.add(LocalModelRequest(model: model, file: file))
            report(
                reference: outcome.reference, commit: outcome.commit, manifest: outcome.manifest, files: outcome.files,
                logicalSize: outcome.logicalBytes,
                bytesDownloaded: outcome.bytesDownloaded, warnings: outcome.warnings)
            return
        }
        let client = HubClient(configuration: try await hubOptions.configuration())
        let storeOptions = storeOptions
        let store = try await onThread { try storeOptions.open() }
        let summary = try await LazyRegistrar(store: store, client: client).add(reference, filename: file)
        report(
            reference: "\(summary.reference)", commit: summary.commit, manifest: summary.manifest.map { "\($0)" }, files: summary.files,
            logicalSize: summary.logicalSize, bytesDownloaded: summary.bytesDownloaded, warnings: summary.warnings)
    }

    private func report(
        reference: String, commit: String, manifest: String?, files: Int, logicalSize: UInt64, bytesDownloaded: UInt64, warnings: [String]
    ) {
        let size = "\(files) files, \(ByteCount.format(logicalSize))"
        if let manifest {
            print("\(reference) is complete (commit \(commit), manifest \(manifest)); \(size)")
        } else {
            print("added \(reference) (commit \(commit)); \(size), fetched on first read through the mount")
            print("  read \(ByteCount.format(bytesDownloaded)) of headers and small files")
        }
        for warning in warnings { print("  warning: \(warning)") }
    }
}
