import Logging
import MantaCSI
import MantaFS
import MantaHub
import MantaPeer
import MantaServerLimits
import MantaStore
import MantaTransfer
import NIOPosix
import Prometheus
import ServiceLifecycle
import Synchronization

/// The node agent: owns the store, serves it to peers, and mounts it. Runs until its task is cancelled or
/// a graceful shutdown (SIGTERM) is signalled; then the mount is unmounted and the server drains.
public final class AgentService: Service, Sendable {
    public let configuration: AgentConfiguration
    public let store: Store
    public let peerServer: PeerServer
    public let discovery: any PeerDiscovery
    let peerClient: PeerClient
    let swarmBoard: SwarmBoard
    let mount: MountRunner?
    let logger: Logger
    /// Keeps collections (quota evictions, `manta gc`) apart from pulls.
    let gate = ReclaimGate()
    let quota: QuotaKeeper
    /// Models that CSI volumes publish: never evicted while held.
    public let holds: ModelHolds
    /// Routes other features (the cluster agent's) add to the local socket API before `run`.
    private let localRoutes = Mutex<[LocalAPIServer.Routes]>([])

    public init(configuration: AgentConfiguration, logger: Logger = Logger(label: "manta.agent")) throws {
        self.configuration = configuration
        self.logger = logger
        if configuration.token == nil, !AgentConfiguration.isLoopback(configuration.listenHost) {
            let address = "\(PeerAddress(host: configuration.listenHost, port: configuration.listenPort))"
            guard configuration.allowsUnauthenticatedNetwork else { throw AgentError.unauthenticatedNetwork(address: address) }
            logger.warning(
                "serving peers on \(address) WITHOUT authentication (--insecure-no-auth): anyone who reaches it can read every model in the store and make this node fetch"
            )
        }
        let store = try Store(root: configuration.storeRoot, changes: configuration.storeChanges, logger: logger)
        self.store = store
        holds = ModelHolds(store: store)
        let discovery = configuration.discovery ?? StaticPeerDiscovery(configuration.peers)
        self.discovery = discovery
        let peerClient = PeerClient(token: configuration.token, downloadLimiter: configuration.downloadRate.map { RateLimiter(bytesPerSecond: $0) })
        self.peerClient = peerClient
        let board = SwarmBoard(store: store, clock: configuration.clock)
        swarmBoard = board
        let metrics = AgentMetrics(store: store)
        quota = QuotaKeeper(
            store: store, gate: gate, interval: configuration.quotaCheckInterval, metrics: PrometheusMetricsFactory(registry: metrics.registry),
            logger: logger)
        var serverConfiguration = PeerServer.Configuration(
            host: configuration.listenHost, port: configuration.listenPort, token: configuration.token,
            uploadRate: configuration.uploadRate, metrics: { metrics.render() },
            swarm: { query in (try? await NIOThreadPool.singleton.runIfActive { board.status(for: query) }) ?? .nothing }
        )
        serverConfiguration.limits = configuration.peerLimits
        let server = PeerServer(store: store, configuration: serverConfiguration, logger: logger)
        metrics.peerServer.withLock { $0 = server }
        peerServer = server
        // Models added from hub metadata alone are fetched on first read: from peers holding them, else from the hub they were added from.
        mount = configuration.mountPoint.map { mountPoint in
            let lazySource = configuration.hub.map {
                let fetcher = PeerFirstSpanFetcher.lazyFetcher(
                    hub: HubSpanFetcher(configuration: $0, overridesEndpoint: false), configuration: configuration, store: store,
                    peerClient: peerClient,
                    discovery: discovery, logger: logger)
                return LazyChunkSource(store: store, fetcher: fetcher, logger: logger)
            }
            let mountConfiguration = MountConfiguration(handover: configuration.mountHandover)
            return MountRunner(
                mount: MountService(store: store, mountPoint: mountPoint, configuration: mountConfiguration, source: lazySource, logger: logger),
                lazySource: lazySource)
        }
    }

    /// The port peers reach this agent on, once it listens.
    public func boundPort() async -> Int { await peerServer.boundPort() }

    /// Gets a model revision onto this node (peers first, the hub for what no peer has) and records it as
    /// `namespace/name@revision`, pinned unless `pin` is false (then the quota may evict it). Under a quota, a model
    /// that cannot fit is refused before any byte is written, and room is made for one that can.
    public func pull(
        _ reference: HubModelReference, filename: String? = nil, pin: Bool = true, progress: @escaping @Sendable (PullProgress) -> Void = { _ in }
    ) async throws -> PullSummary {
        let hub = try hubClient(for: reference)
        let puller = SwarmPuller(
            store: store, hub: hub, peerClient: peerClient, discovery: discovery, board: swarmBoard, timing: configuration.swarmTiming,
            topology: configuration.swarmTopology, clock: configuration.clock, logger: logger
        )
        let snapshot = try await hub.snapshot(of: reference, filename: filename)
        try await admit(reference, snapshot: snapshot)
        let summary = try await gate.pull { try await puller.pull(reference, snapshot: snapshot, filename: filename, progress: progress) }
        if !pin {
            let store = store
            try await NIOThreadPool.singleton.runIfActive { try store.releaseImportPin(of: summary.reference) }
        }
        await quota.enforce()
        return summary
    }

    /// Adds routes to the local socket API; call before `run`.
    public func addLocalRoutes(_ routes: @escaping LocalAPIServer.Routes) {
        localRoutes.withLock { $0.append(routes) }
    }

    public func run() async throws {
        let socketPath = configuration.socketPath ?? AgentConfiguration.defaultSocketPath(storeRoot: configuration.storeRoot)
        let routes = [LocalModelRoutes.routes(self), LocalStoreRoutes.routes(self)] + localRoutes.withLock { $0 }
        // The connection caps leave room for the store's files and the mount only under a limit well above them.
        if let limit = FileDescriptorLimit.raiseToHardLimit(), limit < 4 * UInt64(configuration.peerLimits.maxConnections) {
            logger.warning(
                "the open-file limit is \(limit): raise it (ulimit -n) to at least \(4 * configuration.peerLimits.maxConnections), or lower the connection cap"
            )
        }
        let local = LocalAPIServer(socketPath: socketPath, group: configuration.socketGroup, routes: routes, logger: logger)
        var services: [any Service] = [peerServer, local]
        if let mount { services.append(mount) }
        // A service that returns ends the group: the keeper runs only under a quota.
        if quota.quotaBytes != nil { services.append(quota) }
        let group = ServiceGroup(configuration: .init(endingGracefully: services, logger: logger))
        try await group.run()
    }
}

extension AgentService {
    /// Registers a model from hub metadata alone (`manta add`): the mount shows it at once and fetches on first read.
    public func add(_ reference: HubModelReference, filename: String? = nil) async throws -> LazyRegistrationSummary {
        let hub = try hubClient(for: reference)
        try await admit(reference, snapshot: try await hub.snapshot(of: reference, filename: filename))
        return try await LazyRegistrar(store: store, client: hub, logger: logger).add(reference, filename: filename)
    }

    /// The agent's hub, where revisions are resolved and what no peer has is fetched.
    private func hubClient(for reference: HubModelReference) throws -> HubClient {
        guard let hub = configuration.hub else { throw AgentError.noHub(reference: "\(reference)") }
        return HubClient(configuration: hub, logger: logger, clock: configuration.clock)
    }
}
