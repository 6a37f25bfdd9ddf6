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
    private let lifecycle = LifecycleState()
    private let logger: Logger

    public init(client: KubeClient, resolver: any RevisionResolver, configuration: Configuration, logger: Logger = Logger(label: "manta.controller"))
    {
        self.controller = TorrentController(client: client, resolver: resolver, configuration: configuration.controller, logger: logger)
        self.elector = configuration.leaderElection.map { LeaderElector(client: client, configuration: $0, logger: logger) }
        self.logger = logger
    }

    /// Liveness: false once the controller's loops have ended (after a lost lease, say).
    public var isAlive: Bool { lifecycle.phase != .stopped }

    /// Readiness: running, and when leading, with synced caches. A follower is ready: it is healthy and
    /// waiting, and a Deployment rollout must not stall on replicas that are not the leader.
    public var isReady: Bool {
        lifecycle.phase == .running && (!isLeader || controller.hasSynced)
    }

    public var isLeader: Bool { elector?.isLeader ?? true }

    public func run() async throws {
        let controller = self.controller
        lifecycle.phase = .running
        defer { lifecycle.phase = .stopped }
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

/// Where a service is in its life, shared between the copies of a value type.
final class LifecycleState: Sendable {
    enum Phase: Sendable {
        case idle, running, stopped
    }

    private let value = Mutex(Phase.idle)

    var phase: Phase {
        get { value.withLock { $0 } }
        set { value.withLock { $0 = newValue } }
    }
}
