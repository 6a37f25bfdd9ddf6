import ArgumentParser
import MantaCLISupport
import MantaStore

struct ImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a folder of model files as org/name@revision (chunked, deduplicated, pinned)."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The folder holding the model files.", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("The repository name, org/name.", valueName: "org/name"))
    var repo: String

    @Option(help: "The revision to record.")
    var revision: String = RepoReference.defaultRevision

    @Option(
        help:
            "Store chunks compressed when it saves at least 8% (none | zstd | zstd-bytegroup, which also tries the bytes of BF16/FP16 elements as two planes); saved as the store's setting."
    )
    var compression: StoreConfiguration.Compression?

    @Option(name: .customLong("chunk-size"), help: "Target chunk size for a new store, e.g. 4MiB; saved as the store's setting.")
    var chunkSize: ByteCount?

    @Flag(name: .customLong("no-pin"), help: "Leave the model unpinned, so a store over its quota may evict it.")
    var noPin = false

    func run() throws {
        let reference = try parseReference(repo, revision: revision)
        try ImportSource.requireFolder(directory)
        let store = try storeOptions.open(changes: StoreConfigurationChanges(compression: compression, chunkSize: chunkSize?.bytes))
        let progressBar = ProgressBar(label: "importing \(reference)")
        let summary = try store.importDirectory(directory, as: reference) { progress in
            progressBar.set(progress.processedBytes, of: progress.totalBytes)
        }
        progressBar.finish()
        if noPin { try store.releaseImportPin(of: summary.reference) }
        print("imported \(summary.reference) as \(summary.digest)\(noPin ? " (not pinned: evictable)" : "")")
        print(
            "  \(summary.manifest.files.count) files, \(ByteCount.format(summary.manifest.logicalSize)); \(summary.chunksWritten) new chunks (\(ByteCount.format(summary.bytesWritten)) written), \(summary.chunksReused) already stored"
        )
        for warning in summary.warnings { print("  warning: \(warning)") }
    }
}

extension StoreConfiguration.Compression: ExpressibleByArgument {}
