import ArgumentParser
import MantaCLISupport
import MantaStore

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Show a model's manifest: files, their hashes and chunks."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("The model to inspect.", valueName: "org/name[@revision]"))
    var model: String

    @Flag(help: "List every chunk of every file.")
    var chunks = false

    @Flag(help: "Print the manifest's canonical JSON.")
    var json = false

    func run() throws {
        let reference = try parseReference(model)
        let store = try storeOptions.open()
        let (digest, manifest) = try store.requireManifest(reference)
        if json {
            print(String(decoding: manifest.canonicalJSON(), as: UTF8.self))
            return
        }
        print("model     \(reference)")
        print("manifest  \(digest)")
        print("source    \(manifest.source.kind) \(manifest.source.repo)@\(manifest.source.revision) commit \(manifest.source.commit)")
        print("size      \(ByteCount.format(manifest.logicalSize)) in \(manifest.files.count) files, \(manifest.chunkIDs.count) distinct chunks")
        for file in manifest.files {
            print("\(file.path)  \(file.size) bytes  \(file.scheme.rawValue)  \(file.chunks.count) chunks  \(file.sha256)")
            guard chunks else { continue }
            for chunk in file.chunks {
                print("    \(chunk.offset)+\(chunk.length)  \(chunk.id)\(store.contains(chunk.id) ? "" : "  (missing)")")
            }
        }
    }
}
