import ArgumentParser
import Dispatch
import Foundation
import Logging
import MantaCLISupport
import MantaFS
import MantaHub
import MantaStore

struct MountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.mount.rawValue,
        abstract: NetworkCommand.mount.abstract,
        discussion: "Models registered with `manta add` are fetched from their hub on first read. HF_TOKEN (or the token file) authenticates."
    )

    @OptionGroup var storeOptions: StoreOptions

    @Argument(help: ArgumentHelp("An existing folder to mount on.", valueName: "mountpoint"))
    var mountPoint: String

    @Option(
        help: ArgumentHelp(
            "The hub to fetch models registered with `manta add` from (default: $HF_ENDPOINT, else the hub each was added from).", valueName: "url"
        ))
    var endpoint: String?

    @Option(help: ArgumentHelp("Kernel read-ahead of the mount, in KiB (raising it needs root).", valueName: "KiB"))
    var readAhead: Int = 4096

    @Flag(
        help:
            "Use none of the kernel's newer FUSE features (passthrough, cloned descriptors, requests above 1 MiB), as on an old kernel; MANTA_FUSE_FEATURES=none does the same."
    )
    var noPassthrough = false

    @OptionGroup var handoverOptions: HandoverOptions

    func validate() throws {
        guard (0...(1 << 20)).contains(readAhead) else { throw ValidationError("--read-ahead must be 0...1048576 KiB, not \(readAhead)") }
    }

    func run() async throws {
        let store = try storeOptions.open()
        let logger = Logger(label: "manta.mount")
        let overridesEndpoint = endpoint != nil || !(ProcessInfo.processInfo.environment["HF_ENDPOINT"] ?? "").isEmpty
        let hub = try await HubOptions.configuration(endpoint: endpoint)
        let configuration = MountConfiguration(
            readAheadKiB: readAhead, kernelFeatures: !noPassthrough, handover: handoverOptions.handover(storeRoot: store.root, mountPoint: mountPoint)
        )
        let source = LazyChunkSource(
            store: store, fetcher: HubSpanFetcher(configuration: hub, overridesEndpoint: overridesEndpoint), configuration: configuration,
            logger: logger
        )
        let service = MountService(store: store, mountPoint: mountPoint, configuration: configuration, source: source, logger: logger)
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
            try await onThread { source.shutdown() }
            store.endSession()
        } catch let error as MountError {
            throw ValidationError(error.description)
        }
    }
}
