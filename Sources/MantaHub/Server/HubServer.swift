import Foundation
import Hummingbird
import Logging
import MantaServerLimits
import MantaStore
import MantaTransfer
import NIOCore
import ServiceLifecycle

/// Serves a folder of repositories through the Hugging Face HTTP API that `huggingface_hub` uses.
/// See docs/hub.md for the folder layout, endpoints and headers.
public final class HubServer: Sendable {
    public let configuration: HubServerConfiguration
    /// Faults to show to clients: empty unless this package's tests inject some.
    package let faults = HubFaults()
    public let statistics: HubServerStatistics
    let catalog: RepositoryCatalog
    let rateLimit: RateLimiter?
    let logger: Logger

    public init(configuration: HubServerConfiguration, logger: Logger = Logger(label: "manta.hub.server")) {
        self.configuration = configuration
        statistics = HubServerStatistics()
        catalog = RepositoryCatalog(root: configuration.root, lfsThreshold: configuration.lfsThreshold, logger: logger)
        rateLimit = configuration.maximumBytesPerSecond.map { RateLimiter(bytesPerSecond: UInt64($0), burst: .milliseconds(50)) }
        self.logger = logger
    }

    /// Serves until the task is cancelled (or, with `handlingSignals`, until SIGTERM/SIGINT), calling `onListening`
    /// once the socket is bound: with port 0 that is where the chosen port is learned.
    public func run(
        handlingSignals: Bool = false,
        onListening: @escaping @Sendable (HubServerAddress) async -> Void = { _ in }
    ) async throws {
        // Room for `limits.maxConnections` connections beside the served files.
        FileDescriptorLimit.raiseToHardLimit()
        try await makeServiceGroup(handlingSignals: handlingSignals, onListening: onListening).run()
    }

    func makeServiceGroup(
        handlingSignals: Bool,
        onListening: @escaping @Sendable (HubServerAddress) async -> Void
    ) throws -> ServiceGroup {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw HubServerError.rootNotADirectory(configuration.root)
        }
        let host = configuration.host
        let logger = logger
        let application = Application(
            router: makeRouter(),
            server: .http1(limits: configuration.limits, logger: logger),
            configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port), serverName: "manta-hub"),
            onServerRunning: { channel in
                let address = HubServerAddress(host: host, port: channel.localAddress?.port ?? 0)
                logger.info("hub serving", metadata: ["endpoint": "\(address.endpoint)"])
                await onListening(address)
            },
            logger: logger
        )
        return ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [application],
                gracefulShutdownSignals: handlingSignals ? [.sigterm, .sigint] : [],
                logger: logger
            )
        )
    }
}
