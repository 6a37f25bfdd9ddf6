import Foundation
import Logging
import MantaTransfer
import Synchronization

/// How a replica of the controller competes for leadership through a Lease.
public struct LeaderElectionConfiguration: Sendable {
    public var leaseName: String
    public var namespace: String
    /// Unique per replica, e.g. the pod name.
    public var identity: String
    /// How long a lease is honoured without renewal before another replica may take it.
    public var leaseDuration: Duration
    /// The leader gives up if it could not renew for this long.
    public var renewDeadline: Duration
    /// The pause between attempts to acquire or renew.
    public var retryPeriod: Duration

    public init(
        leaseName: String = "manta-controller", namespace: String, identity: String,
        leaseDuration: Duration = .seconds(15), renewDeadline: Duration = .seconds(10), retryPeriod: Duration = .seconds(2)
    ) {
        self.leaseName = leaseName
        self.namespace = namespace
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
        self.retryPeriod = retryPeriod
    }
}

public enum LeaderElectionError: Error, CustomStringConvertible, Sendable {
    case lost(identity: String, lease: String)

    public var description: String {
        switch self {
        case .lost(let identity, let lease):
            "\(identity) lost the leadership lease \(lease) (could not renew in time); the process should exit and restart"
        }
    }
}

/// Lease-based leader election as client-go does it: expiry is judged by when *this* replica last saw the
/// lease change, not by the timestamps in it, so clock skew between replicas does not matter.
public final class LeaderElector: Sendable {
    private struct Observation {
        var spec: Lease.Spec?
        /// When this replica saw it, on the elector's clock.
        var at: Duration
    }

    private let client: KubeClient
    private let configuration: LeaderElectionConfiguration
    private let observation = Mutex<Observation?>(nil)
    private let leading = Mutex(false)
    private let logger: Logger
    private let clock: Stopwatch

    public init(
        client: KubeClient, configuration: LeaderElectionConfiguration, logger: Logger = Logger(label: "manta.kube.leader"),
        clock: some Clock<Duration> = ContinuousClock()
    ) {
        self.client = client
        self.configuration = configuration
        self.clock = Stopwatch(clock)
        var logger = logger
        logger[metadataKey: "identity"] = "\(configuration.identity)"
        self.logger = logger
    }

    public var isLeader: Bool { leading.withLock { $0 } }

    /// Waits for leadership, then runs `lead` while renewing the lease. Returns when `lead` returns (the lease
    /// is released), throws ``LeaderElectionError/lost(identity:lease:)`` if renewal fails past the deadline.
    public func run(_ lead: @escaping @Sendable () async throws -> Void) async throws {
        while !(await tryAcquireOrRenew()) {
            try await clock.sleep(for: configuration.retryPeriod)
        }
        logger.info("acquired leadership", metadata: ["lease": "\(configuration.namespace)/\(configuration.leaseName)"])
        leading.withLock { $0 = true }
        defer { leading.withLock { $0 = false } }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await lead() }
                group.addTask { try await self.renewUntilLost() }
                try await group.next()
                group.cancelAll()
            }
        } catch {
            await releaseEvenIfCancelled()
            throw error
        }
        await releaseEvenIfCancelled()
    }

    /// Stopping usually means cancellation, which would cancel the release request too; it runs on its own.
    private func releaseEvenIfCancelled() async {
        await Task { await self.release() }.value
    }

    private func renewUntilLost() async throws {
        var lastRenewal = clock.elapsed
        while true {
            try await clock.sleep(for: configuration.retryPeriod)
            if await tryAcquireOrRenew() {
                lastRenewal = clock.elapsed
            } else if clock.elapsed - lastRenewal > configuration.renewDeadline {
                logger.error("lost leadership")
                throw LeaderElectionError.lost(identity: configuration.identity, lease: configuration.leaseName)
            }
        }
    }

    /// One attempt; true when this replica holds the lease afterwards.
    func tryAcquireOrRenew() async -> Bool {
        let now = Date()
        let seconds = Int32(configuration.leaseDuration.components.seconds)
        do {
            let existing: Lease
            do {
                existing = try await client.get(Lease.self, name: configuration.leaseName, namespace: configuration.namespace)
            } catch let error as KubeError where error.isNotFound {
                let spec = Lease.Spec(
                    holderIdentity: configuration.identity, leaseDurationSeconds: seconds,
                    acquireTime: KubeJSON.microTime(now), renewTime: KubeJSON.microTime(now), leaseTransitions: 0)
                let created = try await client.create(Lease(name: configuration.leaseName, namespace: configuration.namespace, spec: spec))
                observe(created.spec)
                return true
            }
            let held = existing.spec ?? Lease.Spec()
            observe(held)
            let holder = held.holderIdentity ?? ""
            if !holder.isEmpty, holder != configuration.identity, !observedExpired(held) {
                return false
            }
            var lease = existing
            var spec = held
            if holder != configuration.identity {
                spec.leaseTransitions = (held.leaseTransitions ?? 0) + 1
                spec.acquireTime = KubeJSON.microTime(now)
            }
            spec.holderIdentity = configuration.identity
            spec.leaseDurationSeconds = seconds
            spec.renewTime = KubeJSON.microTime(now)
            lease.spec = spec
            let updated = try await client.update(lease)
            observe(updated.spec)
            return true
        } catch {
            logger.debug("lease attempt failed", metadata: ["error": "\(error)"])
            return false
        }
    }

    private func observe(_ spec: Lease.Spec?) {
        observation.withLock { observation in
            if observation?.spec != spec { observation = Observation(spec: spec, at: clock.elapsed) }
        }
    }

    private func observedExpired(_ spec: Lease.Spec) -> Bool {
        let duration = Duration.seconds(Int64(spec.leaseDurationSeconds ?? 0))
        return observation.withLock { observation in
            guard let observation else { return true }
            return clock.elapsed - observation.at > duration
        }
    }

    /// Hands the lease back so another replica takes over at once.
    private func release() async {
        do {
            try await client.modify(Lease.self, name: configuration.leaseName, namespace: configuration.namespace) { lease in
                guard lease.spec?.holderIdentity == configuration.identity else { return false }
                lease.spec?.holderIdentity = ""
                lease.spec?.leaseDurationSeconds = 1
                return true
            }
            logger.info("released leadership")
        } catch {
            logger.warning("could not release the lease", metadata: ["error": "\(error)"])
        }
    }
}
