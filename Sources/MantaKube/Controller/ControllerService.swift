import Logging
import ServiceLifecycle
import Synchronization

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
    private let stopped = SharedFlag()
    private let logger: Logger

    public init(client: KubeClient, resolver: any RevisionResolver, configuration: Configuration, logger: Logger = Logger(label: "manta.controller")) {
        self.controller = TorrentController(client: client, resolver: resolver, configuration: configuration.controller, logger: logger)
        self.elector = configuration.leaderElection.map { LeaderElector(client: client, configuration: $0, logger: logger) }
        self.logger = logger
    }

    /// Liveness: false once the controller's loops have ended (after a lost lease, say).
    public var isAlive: Bool { !stopped.withLock { $0 } }

    /// Readiness: caches are synced and, with election, this replica leads (followers report not ready so
    /// Services and dashboards point at the leader; probes must not restart them for it).
    public var isReady: Bool {
        controller.hasSynced && (elector?.isLeader ?? true)
    }

    public var isLeader: Bool { elector?.isLeader ?? true }

    public func run() async throws {
        let controller = self.controller
        defer { stopped.withLock { $0 = true } }
        do {
            try await cancelWhenGracefulShutdown {
                if let elector {
                    try await elector.run { try await controller.run() }
                } else {
                    try await controller.run()
                }
            }
        } catch is CancellationError {
            // A follower waiting for the Lease is stopped by cancellation: that is a normal shutdown.
        }
        logger.info("controller stopped")
    }
}

/// A Bool shared between a value type's copies.
final class SharedFlag: Sendable {
    private let value = Mutex(false)

    func withLock<T: Sendable>(_ body: (inout Bool) -> T) -> T { value.withLock { body(&$0) } }
}
