import Logging
import MantaStore
import Metrics
import NIOPosix
import ServiceLifecycle

/// Keeps the store under its quota while the agent runs (`--quota`, `--high-watermark`, `--low-watermark`, kept in
/// the store's settings): once the chunks and the mount's passthrough copies pass the high watermark, the copies no file
/// is open on, then the least recently used models that nothing holds, are evicted down to the low one
/// (`Store.collectGarbage`). A pull or a lazy registration is admitted only when it
/// fits once everything evictable is gone, and room is made for it before its first byte is written.
/// Every collection runs through the agent's `ReclaimGate`, so it never frees chunks a pull in progress counts on.
final class QuotaKeeper: Service, Sendable {
    let store: Store
    let gate: ReclaimGate
    /// How often the store's use is looked at between pulls (the mount's lazy fetches and imports grow it too).
    let interval: Duration
    let logger: Logger
    private let evictions: Counter
    private let evictedBytes: Counter
    private let refusedPulls: Counter
    private let passthroughEvictions: Counter

    init(store: Store, gate: ReclaimGate, interval: Duration, metrics: any MetricsFactory, logger: Logger) {
        self.store = store
        self.gate = gate
        self.interval = interval
        self.logger = logger
        evictions = Counter(label: "manta_evictions_total", factory: metrics)
        evictedBytes = Counter(label: "manta_evicted_bytes_total", factory: metrics)
        refusedPulls = Counter(label: "manta_refused_pulls_total", factory: metrics)
        passthroughEvictions = Counter(label: "manta_passthrough_copies_evicted_total", factory: metrics)
    }

    var quotaBytes: UInt64? { store.configuration.quotaBytes }

    /// Refuses a model of `neededBytes` that cannot fit under the quota even with every evictable model gone
    /// (saying what holds the space); else evicts what must go for it to fit under the high watermark.
    func admit(_ model: String, neededBytes: UInt64) async throws {
        guard quotaBytes != nil else { return }
        let store = store
        let report = try await NIOThreadPool.singleton.runIfActive { try store.spaceReport() }
        guard report.fits(neededBytes) else {
            refusedPulls.increment()
            logger.warning(
                "refused: does not fit under the quota",
                metadata: ["model": "\(model)", "needed bytes": "\(neededBytes)", "held bytes": "\(report.heldBytes)"])
            throw AgentError.doesNotFit(model: model, neededBytes: neededBytes, report: report)
        }
        if store.configuration.passesHighWatermark(report.quotaUsedBytes + neededBytes) {
            _ = try await collect(dryRun: false, reserving: neededBytes)
        }
    }

    /// Collects garbage and, above the high watermark (counting `reservedBytes` to come), evicts; alone, no pull
    /// running. Evictions are counted and logged.
    func collect(dryRun: Bool, reserving reservedBytes: UInt64 = 0) async throws -> Store.GCPlan {
        let store = store
        let plan = try await gate.reclaim {
            try await NIOThreadPool.singleton.runIfActive { try store.collectGarbage(dryRun: dryRun, reserving: reservedBytes) }
        }
        guard !dryRun else { return plan }
        if !plan.passthroughCopies.isEmpty {
            passthroughEvictions.increment(by: Int64(plan.passthroughCopies.count))
            logger.info(
                "deleted passthrough copies (the mount builds each again on its file's next open)",
                metadata: [
                    "copies": "\(plan.passthroughCopies.count)", "freed bytes": "\(plan.passthroughCopies.reduce(0) { $0 + $1.bytes })",
                ])
        }
        for model in plan.evicted {
            evictions.increment()
            evictedBytes.increment(by: Int64(clamping: model.freedBytes))
            logger.info("evicted", metadata: ["model": "\(model.reference)", "lazy": "\(model.lazy)", "freed bytes": "\(model.freedBytes)"])
        }
        if plan.quotaUnmet {
            logger.warning(
                "the quota cannot be met: everything left is held (pinned, open through the mount, published to a pod, or a Replication's)")
        }
        return plan
    }

    /// Evicts when the store (its chunks and the mount's passthrough copies) has passed the high watermark.
    func enforce() async {
        guard quotaBytes != nil else { return }
        let store = store
        do {
            let used = try await NIOThreadPool.singleton.runIfActive { try store.quotaUsedBytes() }
            guard store.configuration.passesHighWatermark(used) else { return }
            _ = try await collect(dryRun: false)
        } catch {
            logger.warning("could not keep the store under its quota", metadata: ["error": "\(error)"])
        }
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while (try? await Task.sleep(for: self.interval)) != nil {
                await self.enforce()
            }
        }
    }
}
