import Logging
import MantaFS
import MantaPeer
import MantaStore
import ServiceLifecycle

/// The node agent: owns the store, serves it to peers, and mounts it. Runs until its task is cancelled or
/// a graceful shutdown (SIGTERM) is signalled; then the mount is unmounted and the server drains.
public final class AgentService: Service, Sendable {
    public let configuration: AgentConfiguration
    public let store: Store
    public let peerServer: PeerServer
    let mount: MountService?
    let logger: Logger

    public init(configuration: AgentConfiguration, logger: Logger = Logger(label: "manta.agent")) throws {
        self.configuration = configuration
        self.logger = logger
        let store = try Store(root: configuration.storeRoot, logger: logger)
        self.store = store
        peerServer = PeerServer(
            store: store,
            configuration: .init(host: configuration.listenHost, port: configuration.listenPort, token: configuration.token, uploadRate: configuration.uploadRate),
            logger: logger
        )
        mount = configuration.mountPoint.map { MountService(store: store, mountPoint: $0, logger: logger) }
    }

    /// The port peers reach this agent on, once it listens.
    public func boundPort() async -> Int { await peerServer.boundPort() }

    public func run() async throws {
        var services: [any Service] = [peerServer]
        if let mount { services.append(MountRunner(mount: mount)) }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await group.run()
    }
}

/// Runs a mount as a service: graceful shutdown unmounts.
struct MountRunner: Service {
    let mount: MountService

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await mount.run()
        } onGracefulShutdown: {
            mount.stop()
        }
    }
}
