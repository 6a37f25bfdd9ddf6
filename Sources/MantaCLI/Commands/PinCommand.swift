import ArgumentParser
import MantaCLISupport
import MantaStore

struct PinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin",
        abstract: "Keep a model's chunks from ever being evicted."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The model to pin.", valueName: "org/name[@revision]"))
    var model: String

    func run() throws {
        let reference = try parseReference(model)
        try storeOptions.open().pin(reference)
        print("pinned \(reference)")
    }
}
