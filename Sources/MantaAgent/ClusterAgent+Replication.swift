import Logging
import MantaHub
import MantaKube
import MantaStore
import NIOPosix
import Synchronization

/// Where the agent is with one of its node's Replications.
enum ReplicationWork {
    case pulling(Task<Void, Never>)
    case ready
    case reclaiming(Task<Void, Never>)
    case reclaimed
}

extension ClusterAgent {
    /// Store pins held for Replications are named `replication:<name>`.
    static let pinPrefix = "replication:"

    static func pinHolder(_ replicationName: String) -> String { pinPrefix + replicationName }

    /// The store's name for a Replication's model, as a pull records it: `org/name@revision`.
    static func storeReference(of source: Replication.Source) -> RepoReference? {
        try? RepoReference(parsing: "\(source.repoID)@\(source.revision)")
    }

    func handle(_ event: InformerEvent<Replication>) {
        switch event {
        case .added(let replication), .updated(_, let replication): follow(replication)
        case .deleted(let replication): release(replication)
        }
    }

    /// Starts what the Replication asks for, unless it is under way already: its own status writes come
    /// back as updates, and a relist repeats additions.
    private func follow(_ replication: Replication) {
        let name = replication.name
        work.withLock { work in
            switch (replication.isReclaiming, work[name]) {
            case (true, .reclaiming?), (true, .reclaimed?), (false, _?):
                return
            case (true, let current):
                let pull: Task<Void, Never>? = if case .pulling(let task)? = current { task } else { nil }
                pull?.cancel()
                work[name] = .reclaiming(
                    Task {
                        await pull?.value
                        await self.reclaim(replication)
                    })
            case (false, nil):
                work[name] = .pulling(Task { await self.pullUntilReady(replication) })
            }
        }
    }

    /// A Replication deleted without reclaim (Retain, or re-placed): stop, unpin, keep the files.
    private func release(_ replication: Replication) {
        let previous = work.withLock { $0.removeValue(forKey: replication.name) }
        let running: Task<Void, Never>?
        switch previous {
        case .pulling(let task)?:
            task.cancel()
            running = task
        case .reclaiming(let task)?:
            running = task
        case .ready?, .reclaimed?, nil:
            running = nil
        }
        Task {
            await running?.value
            do {
                try await self.unpin(replication, removingReference: false)
            } catch {
                self.logger.warning(
                    "could not unpin a deleted Replication's model", metadata: ["replication": "\(replication.name)", "error": "\(error)"])
            }
        }
    }

    func stopAllWork() {
        let tasks = work.withLock { work in
            work.values.compactMap { item -> Task<Void, Never>? in
                switch item {
                case .pulling(let task), .reclaiming(let task): task
                case .ready, .reclaimed: nil
                }
            }
        }
        for task in tasks { task.cancel() }
    }

    // MARK: Pulling

    /// Pulls (or, for a lazy Replication, registers) until the model is on the node, reporting progress; after
    /// a failure reports `Failed`, posts a Warning Event with the reason, and tries again with backoff. Ends
    /// early when cancelled (the Replication went, or the agent stops).
    func pullUntilReady(_ replication: Replication) async {
        let name = replication.name
        let total = replication.spec.source.totalBytes
        var backoff = configuration.retryBackoff
        while !Task.isCancelled {
            do {
                let ready = replication.isLazy ? try await registerLazily(replication) : try await pullAndPin(replication)
                let current = work.withLock { work -> Bool in
                    guard case .pulling? = work[name] else { return false }
                    work[name] = .ready
                    return true
                }
                guard current else { return }
                logger.info(
                    "model ready", metadata: ["replication": "\(name)", "lazy": "\(replication.isLazy)", "manifest": "\(ready.manifestDigest ?? "")"])
                await reportReliably(name, ready)
                requestPublish()
                return
            } catch {
                guard !Task.isCancelled else { return }
                let delay = backoff.next()
                let source = replication.spec.source
                let verb = replication.isLazy ? "registering" : "pulling"
                let message = "\(verb) \(source.repoID)@\(source.revision) failed: \(error); retrying in \(delay)"
                logger.warning("\(verb) failed", metadata: ["replication": "\(name)", "error": "\(error)", "retry in": "\(delay)"])
                await reportReliably(name, Replication.Status(phase: .failed, bytesTotal: total, message: message))
                await recordEvent(for: replication, .warning, reason: replication.isLazy ? "RegisterFailed" : "PullFailed", message: message)
                guard (try? await self.configuration.clock.sleep(for: delay)) != nil else { return }
            }
        }
    }

    /// Registers the model from the hub's metadata alone (`preheat: false`): the mount shows it at once and
    /// fetches chunks on first read. Returns the Ready status to report; a model already complete here is
    /// pinned as a pulled one is.
    private func registerLazily(_ replication: Replication) async throws -> Replication.Status {
        let name = replication.name
        let source = replication.spec.source
        let total = source.totalBytes
        let store = agent.store
        let reference = try HubModelReference("\(source.repoID)@\(source.revision)")
        await reportOnce(
            name, Replication.Status(phase: .replicating, bytesDone: 0, bytesTotal: total, message: "registering from the hub's metadata"))
        let summary = try await gate.pull { try await self.agent.add(reference, filename: source.filename) }
        guard summary.commit == source.commit else {
            throw AgentError.revisionMoved(reference: "\(reference)", expected: source.commit, found: summary.commit)
        }
        if let manifest = summary.manifest {
            try await NIOThreadPool.singleton.runIfActive { try store.pin(manifest, holder: Self.pinHolder(name)) }
            await recordEvent(
                for: replication, .normal, reason: "Registered", message: "\(source.repoID)@\(source.revision) is already here complete")
            return Replication.Status(
                phase: .ready, bytesDone: total, bytesTotal: total, manifestDigest: manifest.prefixed,
                message: "registered: the model is complete here")
        }
        await recordEvent(
            for: replication, .normal, reason: "Registered",
            message: "registered \(source.repoID)@\(source.revision) lazily (\(summary.files) files, \(summary.logicalSize) bytes) from "
                + "\(summary.bytesDownloaded) bytes of headers and small files; the rest loads on first read")
        return Replication.Status(phase: .ready, bytesDone: 0, bytesTotal: total, message: "registered lazily: the model loads on first read")
    }

    /// The Ready status once the model is complete in the store and pinned for the Replication.
    private func pullAndPin(_ replication: Replication) async throws -> Replication.Status {
        let name = replication.name
        let source = replication.spec.source
        let store = agent.store
        let holder = Self.pinHolder(name)
        // After a restart, a model reported Ready and still complete needs no pull (and no hub).
        if replication.phase == .ready, let digest = replication.status?.manifestDigest.flatMap(Digest.init(prefixed:)) {
            let kept = try await NIOThreadPool.singleton.runIfActive { () -> Bool in
                guard let manifest = try? store.manifest(digest), manifest.chunkIDs.allSatisfy(store.contains) else { return false }
                try store.pin(digest, holder: holder)
                return true
            }
            if kept { return Self.readyStatus(source, manifest: digest) }
        }
        let reference = try HubModelReference("\(source.repoID)@\(source.revision)")
        let digest = try await gate.pull {
            await self.reportOnce(name, Replication.Status(phase: .replicating, bytesDone: 0, bytesTotal: source.totalBytes))
            await self.recordEvent(
                for: replication, .normal, reason: "PullStarted",
                message: "pulling \(source.repoID)@\(source.revision) (\(source.totalBytes) bytes), from peers first")
            let started = configuration.clock.now
            let summary = try await self.pullReportingProgress(name, reference: reference, filename: source.filename)
            guard summary.manifest.source.commit == source.commit else {
                throw AgentError.revisionMoved(reference: "\(reference)", expected: source.commit, found: summary.manifest.source.commit)
            }
            try await NIOThreadPool.singleton.runIfActive { try store.pin(summary.digest, holder: holder) }
            await self.recordEvent(
                for: replication, .normal, reason: "Pulled",
                message: Self.pullDoneMessage(summary, source: source, took: started.duration(to: configuration.clock.now)))
            return summary.digest
        }
        return Self.readyStatus(source, manifest: digest)
    }

    private static func readyStatus(_ source: Replication.Source, manifest: Digest) -> Replication.Status {
        Replication.Status(phase: .ready, bytesDone: source.totalBytes, bytesTotal: source.totalBytes, manifestDigest: manifest.prefixed)
    }

    /// Runs the pull; meanwhile writes its progress at most once per `progressInterval`.
    private func pullReportingProgress(_ name: String, reference: HubModelReference, filename: String?) async throws -> PullSummary {
        let latest = LatestProgress()
        return try await withThrowingTaskGroup(of: PullSummary?.self) { group in
            group.addTask {
                var reported: UInt64?
                while (try? await self.configuration.clock.sleep(for: self.configuration.progressInterval)) != nil {
                    guard let progress = latest.value.withLock({ $0 }), progress.completedBytes != reported else { continue }
                    reported = progress.completedBytes
                    await self.reportOnce(
                        name,
                        Replication.Status(phase: .replicating, bytesDone: Int64(progress.completedBytes), bytesTotal: Int64(progress.totalBytes)))
                }
                return nil
            }
            group.addTask {
                try await self.agent.pull(reference, filename: filename) { progress in latest.value.withLock { $0 = progress } }
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let summary = result { return summary }
            }
            throw CancellationError()
        }
    }

    // MARK: Releasing

    /// Frees the model unless another of this node's Replications needs it, then reports `Reclaimed`.
    func reclaim(_ replication: Replication) async {
        let name = replication.name
        await reportReliably(name, Replication.Status(phase: .reclaiming, message: "freeing the chunks nothing else uses"))
        var backoff = configuration.retryBackoff
        while !Task.isCancelled {
            do {
                let freed = try await gate.reclaim { try await self.free(replication) }
                work.withLock { work in
                    if case .reclaiming? = work[name] { work[name] = .reclaimed }
                }
                logger.info("reclaimed", metadata: ["replication": "\(name)", "freed bytes": "\(freed.freedBytes)"])
                let message = "freed \(freed.freedBytes) bytes (\(freed.chunks.count) chunks) nothing else uses"
                await reportReliably(name, Replication.Status(phase: .reclaimed, message: message))
                await recordEvent(for: replication, .normal, reason: "Reclaimed", message: message)
                requestPublish()
                return
            } catch {
                guard !Task.isCancelled else { return }
                let delay = backoff.next()
                logger.warning("reclaim failed", metadata: ["replication": "\(name)", "error": "\(error)", "retry in": "\(delay)"])
                let message = "freeing failed: \(error); retrying in \(delay)"
                await reportReliably(name, Replication.Status(phase: .reclaiming, message: message))
                await recordEvent(for: replication, .warning, reason: "ReclaimFailed", message: message)
                guard (try? await self.configuration.clock.sleep(for: delay)) != nil else { return }
            }
        }
    }

    /// Unpins the Replication's model and removes its reference (unless another Replication here needs it), then
    /// collects garbage through the agent (apart from its pulls, local ones included): only chunks no remaining
    /// model, pin or open file uses go.
    private func free(_ replication: Replication) async throws -> Store.GCPlan {
        try await unpin(replication, removingReference: true)
        return try await agent.collectGarbage(dryRun: false)
    }

    /// Drops the Replication's pin; when no other Replication on this node needs the same model, also the
    /// pins of its reference (or, with `removingReference`, the reference itself and a lazy registration of it).
    private func unpin(_ replication: Replication, removingReference: Bool) async throws {
        let store = agent.store
        let holder = Self.pinHolder(replication.name)
        let reference = Self.storeReference(of: replication.spec.source)
        let neededElsewhere = replications.items.contains { other in
            other.name != replication.name && !other.isReclaiming && Self.storeReference(of: other.spec.source) == reference
        }
        try await NIOThreadPool.singleton.runIfActive {
            for pin in try store.pins() where pin.holder == holder {
                try store.unpin(pin.manifest, holder: holder)
            }
            guard let reference, !neededElsewhere else { return }
            if removingReference, try store.registrations().contains(where: { $0.reference == reference }) {
                try store.removeRegistration(reference)
            }
            guard try store.resolve(reference) != nil else { return }
            if removingReference {
                try store.removeReference(reference)
            } else {
                try store.unpin(reference)
            }
        }
    }

    /// Pins of Replications deleted while the agent was not running.
    func releaseStalePins() async {
        let current = Set(replications.items.map { Self.pinHolder($0.name) })
        let store = agent.store
        do {
            try await NIOThreadPool.singleton.runIfActive {
                for pin in try store.pins() where pin.holder.hasPrefix(Self.pinPrefix) && !current.contains(pin.holder) {
                    try store.unpin(pin.manifest, holder: pin.holder)
                }
            }
        } catch {
            logger.warning("could not release the pins of deleted Replications", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Reporting

    /// One status write; a failure only logs (progress is written again soon).
    func reportOnce(_ name: String, _ status: Replication.Status) async {
        do {
            try await binding.report(name, status)
        } catch {
            logger.warning("could not report progress", metadata: ["replication": "\(name)", "error": "\(error)"])
        }
    }

    /// Writes a status that must arrive (a phase change), retrying with backoff until it does, the
    /// Replication is gone, or the task is cancelled.
    func reportReliably(_ name: String, _ status: Replication.Status) async {
        var backoff = configuration.watchBackoff
        while !Task.isCancelled {
            do {
                try await binding.report(name, status)
                return
            } catch {
                let delay = backoff.next()
                logger.warning(
                    "could not report the status, retrying", metadata: ["replication": "\(name)", "error": "\(error)", "retry in": "\(delay)"])
                guard (try? await self.configuration.clock.sleep(for: delay)) != nil else { return }
            }
        }
    }
}

/// The newest progress of a pull, shared between the pull's callback and the task that reports it.
private final class LatestProgress: Sendable {
    let value = Mutex<PullProgress?>(nil)
}
