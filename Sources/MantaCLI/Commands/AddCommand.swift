import ArgumentParser
import Foundation
import MantaHub
import MantaStore

struct AddCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Register a model from a Hugging Face hub's metadata alone: it appears in mounts at once, and its chunks are fetched on first read.",
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

    func run() async throws {
        let reference = try parseHubReference(model)
        let client = HubClient(configuration: try await hubOptions.configuration())
        let storeOptions = storeOptions
        let store = try await onThread { try storeOptions.open() }
        let summary = try await LazyRegistrar(store: store, client: client).add(reference, filename: file)
        let size = "\(summary.files) files, \(ByteCount.format(summary.logicalSize))"
        if let manifest = summary.manifest {
            print("\(summary.reference) is complete (commit \(summary.commit), manifest \(manifest)); \(size)")
        } else {
            print("added \(summary.reference) (commit \(summary.commit)); \(size), fetched on first read through `manta mount`")
            print("  read \(ByteCount.format(summary.bytesDownloaded)) of headers and small files")
        }
        for warning in summary.warnings { print("  warning: \(warning)") }
    }
}
