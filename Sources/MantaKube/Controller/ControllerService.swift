import Logging
import ServiceLifecycle

/// The controller as a long-running service: `manta controller` builds one and runs it in a ServiceGroup.
///
/// With leader election only the replica holding the Lease reconciles; the others wait. Losing the lease
/// throws, so the process exits and Kubernetes restarts it as a follower.
public struct ControllerService: Service {
    public struct Configuration: Sendable {
        public var controller: ControllerConfiguration
        /// nil runs without election (a single replica, or tests).
        public var leaderElection: LeaderElectionConfiguration?

        public init(controller: ControllerConfiguration = .init(), leaderElection: LeaderElectionConfiguration? = nil) {
            self.controller = controller
            self.leaderElection = leaderElection
        }
    }

    public let controller: TorrentController
    private let elector: LeaderElector?
    private let logger: Logger

    public init(client: KubeClient, resolver: any RevisionResolver, configuration: Configuration, logger: Logger = Logger(label: "manta.controller")) {
        self.controller = TorrentController(client: client, resolver: resolver, configuration: configuration.controller, logger: logger)
        self.elector = configuration.leaderElection.map { LeaderElector(client: client, configuration: $0, logger: logger) }
        self.logger = logger
    }

    /// Liveness: the process is running its loops.
    public var isAlive: Bool { true }

    /// Readiness: caches are synced and, with election, this replica leads (followers report not ready so
    /// Services and dashboards point at the leader; probes must not restart them for it).
    public var isReady: Bool {
        controller.hasSynced && (elector?.isLeader ?? true)
    }

    public var isLeader: Bool { elector?.isLeader ?? true }

    public func run() async throws {
        let controller = self.controller
        try await cancelWhenGracefulShutdown {
            if let elector {
                try await elector.run { try await controller.run() }
            } else {
                try await controller.run()
            }
        }
        logger.info("controller stopped")
    }
}
