import ArgumentParser
import MantaCLISupport
import MantaStore

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a model's files to a folder, byte for byte, checking every chunk on the way."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The model to export.", valueName: "org/name[@revision]"))
    var model: String

    @Argument(help: ArgumentHelp("The folder to write into (created if missing).", valueName: "dir"))
    var directory: String

    func run() throws {
        let reference = try parseReference(model)
        let store = try storeOptions.open()
        let manifest = try store.requireManifest(reference).manifest
        let bar = ProgressBar(label: "exporting \(reference)", total: manifest.logicalSize)
        try store.export(reference, to: directory) { bar.advance($0) }
        bar.finish()
        print("exported \(manifest.files.count) files (\(ByteCount.format(manifest.logicalSize))) of \(reference) to \(directory)")
    }
}
