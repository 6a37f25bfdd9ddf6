import CoreMetrics
import Foundation
import Logging
import MantaStore
import MantaTransfer
import Metrics
import Synchronization

/// Tuning of the Torrent controller.
public struct ControllerConfiguration: Sendable {
    public var scheduler: Scheduler
    /// Reconcile loops running at once (different Torrents only).
    public var workers: Int
    /// Reconnect backoff of the watches.
    public var watchBackoff: Backoff
    /// First retry delay of a failed reconcile; doubles per failure.
    public var retryBaseDelay: Duration
    public var retryMaxDelay: Duration
    /// How often a deleted Torrent waiting for agents to reclaim is looked at again, events aside.
    public var reclaimRecheck: Duration
    /// Where the controller's metrics go; nil uses the process-wide `MetricsSystem`.
    public var metricsFactory: (any MetricsFactory)?

    public init(
        scheduler: Scheduler = .standard(), workers: Int = 2, watchBackoff: Backoff = Backoff(),
        retryBaseDelay: Duration = .milliseconds(50), retryMaxDelay: Duration = .seconds(300),
        reclaimRecheck: Duration = .seconds(30), metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.scheduler = scheduler
        self.workers = workers
        self.watchBackoff = watchBackoff
        self.retryBaseDelay = retryBaseDelay
        self.retryMaxDelay = retryMaxDelay
        self.reclaimRecheck = reclaimRecheck
        self.metricsFactory = metricsFactory
    }
}

/// Reconciles Torrents: resolves the revision, places Replications on nodes (by `replicas`, on every eligible
/// node for `preheat: false`, and on the nodes of pods labelled `manta.io/torrent-name`), rolls their progress
/// up into the Torrent status, labels the nodes that hold the model, follows node loss, applies
/// `ttlSecondsAfterReady` and releases replicas on delete.
public final class TorrentController: Sendable {
    let client: KubeClient
    let resolver: any RevisionResolver
    let configuration: ControllerConfiguration
    let logger: Logger
    let events: EventRecorder
    let queue: WorkQueue
    let torrents: Informer<Torrent>
    let replications: Informer<Replication>
    let trackers: Informer<NodeTracker>
    let nodes: Informer<Node>
    /// Pods labelled `manta.io/torrent-name`, in every namespace.
    let pods: Informer<Pod>
    /// Why the last placement of a Torrent found fewer nodes than it wanted, for its status.
    let lastPlacementShortfall = Mutex<[String: String]>([:])
    private let keys: AsyncStream<String>.Continuation
    private let keyStream: AsyncStream<String>
    private let reconciles: Counter
    private let failures: Counter
    private let durations: CoreMetrics.Timer

    public init(
        client: KubeClient, resolver: any RevisionResolver, configuration: ControllerConfiguration = .init(),
        logger: Logger = Logger(label: "manta.controller")
    ) {
        self.client = client
        self.resolver = resolver
        self.configuration = configuration
        self.logger = logger
        let metrics = configuration.metricsFactory ?? MetricsSystem.factory
        self.reconciles = Counter(label: "manta_controller_reconciles_total", factory: metrics)
        self.failures = Counter(label: "manta_controller_reconcile_errors_total", factory: metrics)
        self.durations = CoreMetrics.Timer(label: "manta_controller_reconcile_duration_seconds", preferredDisplayUnit: .seconds, factory: metrics)
        self.events = EventRecorder(client: client, logger: logger)
        self.queue = WorkQueue(baseDelay: configuration.retryBaseDelay, maxDelay: configuration.retryMaxDelay)
        (keyStream, keys) = AsyncStream.makeStream(of: String.self)
        let keys = self.keys
        let torrents = Informer<Torrent>(client: client, backoff: configuration.watchBackoff, logger: logger) { event in
            keys.yield(event.object.name)
        }
        self.torrents = torrents
        self.replications = Informer<Replication>(client: client, backoff: configuration.watchBackoff, logger: logger) { event in
            keys.yield(event.object.spec.torrentName)
        }
        // A node coming or going, or its free space changing, may unblock or invalidate any placement.
        let enqueueAll: @Sendable () -> Void = {
            for torrent in torrents.items { keys.yield(torrent.name) }
        }
        self.trackers = Informer<NodeTracker>(client: client, backoff: configuration.watchBackoff, logger: logger) { event in
            if case .updated(let old, let new) = event, old.status?.freeBytes == new.status?.freeBytes, old.status?.models == new.status?.models {
                return
            }
            enqueueAll()
        }
        self.nodes = Informer<Node>(client: client, backoff: configuration.watchBackoff, logger: logger) { event in
            // The controller's own Torrent labels on nodes change no placement.
            if case .updated(let old, let new) = event, old.placementLabels == new.placementLabels, old.spec == new.spec { return }
            enqueueAll()
        }
        self.pods = Informer<Pod>(client: client, labelSelector: Torrent.nameLabel, backoff: configuration.watchBackoff, logger: logger) { event in
            var names: Set<String> = []
            switch event {
            case .added(let pod), .deleted(let pod):
                if let name = pod.torrentName { names.insert(name) }
            case .updated(let old, let new):
                guard old.torrentName != new.torrentName || old.nodeNeedingModel != new.nodeNeedingModel else { return }
                for name in [old.torrentName, new.torrentName].compactMap({ $0 }) { names.insert(name) }
            }
            for name in names { keys.yield(name) }
        }
    }

    /// True once every informer has its first list.
    public var hasSynced: Bool {
        torrents.hasSynced && replications.hasSynced && trackers.hasSynced && nodes.hasSynced && pods.hasSynced
    }

    /// Runs until cancelled.
    public func run() async throws {
        let keys = self.keys
        let queue = self.queue
        await withTaskCancellationHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.torrents.run() }
                group.addTask { await self.replications.run() }
                group.addTask { await self.trackers.run() }
                group.addTask { await self.nodes.run() }
                group.addTask { await self.pods.run() }
                group.addTask {
                    for await key in self.keyStream { await queue.add(key) }
                }
                group.addTask {
                    await self.torrents.waitForSync()
                    await self.replications.waitForSync()
                    await self.trackers.waitForSync()
                    await self.nodes.waitForSync()
                    await self.pods.waitForSync()
                    guard !Task.isCancelled else { return }
                    self.logger.info("caches synced, reconciling")
                    await withTaskGroup(of: Void.self) { workers in
                        for _ in 0..<max(self.configuration.workers, 1) {
                            workers.addTask { await self.work() }
                        }
                    }
                }
            }
        } onCancel: {
            keys.finish()
            Task { await queue.shutdown() }
        }
    }

    private func work() async {
        while let key = await queue.next() {
            reconciles.increment()
            let started = ContinuousClock.now
            defer { durations.recordNanoseconds((ContinuousClock.now - started).wholeNanoseconds) }
            do {
                let outcome = try await reconcile(key)
                await queue.forget(key)
                if case .after(let delay) = outcome { await queue.add(key, after: delay) }
            } catch is CancellationError {
                await queue.done(key)
                return
            } catch {
                failures.increment()
                logger.warning("reconcile failed, will retry", metadata: ["torrent": "\(key)", "error": "\(error)"])
                await queue.addRateLimited(key)
            }
            await queue.done(key)
        }
    }

    enum Outcome: Equatable {
        case done
        case after(Duration)
    }
}
