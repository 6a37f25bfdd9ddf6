import ArgumentParser
import MantaCLISupport
import MantaStore

struct UnpinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unpin",
        abstract: "Let GC evict a model's chunks again (pins held by Torrents or open files stay)."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The model to unpin.", valueName: "org/name[@revision]"))
    var model: String

    func run() throws {
        let reference = try parseReference(model)
        try storeOptions.open().unpin(reference)
        print("unpinned \(reference)")
    }
}
