import ArgumentParser
import MantaCLISupport
import MantaStore

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Recompute every chunk and manifest hash; quarantine what is corrupt; exit non-zero if anything was."
    )

    @OptionGroup var storeOptions: StoreOptions

    func run() throws {
        let store = try storeOptions.open()
        let bar = ProgressBar(label: "verifying", total: try store.usage().uniqueBytes)
        let report = try store.verify { bar.advance($0) }
        bar.finish()
        print("checked \(report.chunksChecked) chunks (\(ByteCount.format(report.bytesChecked)))")
        for chunk in report.corruptChunks {
            print("corrupt chunk \(chunk): moved to \(store.root)/quarantine")
        }
        for manifest in report.corruptManifests {
            print("corrupt manifest \(manifest): moved to \(store.root)/quarantine")
        }
        for file in report.changedFiles {
            print(
                "file '\(file.path)' of manifest \(file.manifest) has git blob id \(file.actual), not the hub's \(file.expected): "
                    + "its manifest was moved to \(store.root)/quarantine; pull the model again"
            )
        }
        for (reference, missing) in report.damagedModels {
            print("model \(reference) is missing \(missing.count) chunks (first: \(missing[0])): import it again")
        }
        guard report.isClean else { throw ExitCode(1) }
        print("store is clean")
    }
}
