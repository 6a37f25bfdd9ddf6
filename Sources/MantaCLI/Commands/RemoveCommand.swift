import ArgumentParser
import MantaCLISupport
import MantaStore

struct RemoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Remove a model's reference; `manta gc` then frees the chunks nothing else uses."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The model to remove.", valueName: "org/name[@revision]"))
    var model: String

    func run() throws {
        let reference = try parseReference(model)
        let store = try storeOptions.open()
        if try store.registrations().contains(where: { $0.reference == reference }) {
            try store.removeRegistration(reference)
            if try store.resolve(reference) == nil {
                print("removed the registration of \(reference); run `manta gc` to free its fetched chunks")
                return
            }
        }
        try store.removeReference(reference)
        print("removed \(reference); run `manta gc` to free its unshared chunks")
    }
}
