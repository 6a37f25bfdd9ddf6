import ArgumentParser
import Dispatch
import Foundation
import Logging
import MantaFS
import MantaStore

struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Mount the store's models read-only at <mountpoint> (models/<org>/<name> and the Hugging Face cache in hub/); runs until SIGINT or SIGTERM."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("An existing folder to mount on.", valueName: "mountpoint"))
    var mountPoint: String

    func run() async throws {
        let store = try storeOptions.open()
        let service = MountService(store: store, mountPoint: mountPoint, logger: Logger(label: "manta.mount"))
        // Signals only stop the mount; the process exits once it is unmounted.
        let signals = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { service.stop() }
            source.resume()
            return source
        }
        defer { signals.forEach { $0.cancel() } }
        do {
            try await service.run()
        } catch let error as MountError {
            throw ValidationError(error.description)
        }
    }
}
