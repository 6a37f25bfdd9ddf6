import Foundation
import Logging

extension TorrentController {
    func reconcile(_ name: String) async throws -> Outcome {
        guard let torrent = torrents.get(name) else {
            lastPlacementShortfall.withLock { $0[name] = nil }
            try await deleteOrphans(of: name, keepingOwner: nil)
            try await syncNodeLabels(of: name, holders: [:])
            return .done
        }
        if torrent.metadata.isDeleting {
            return try await finalize(torrent)
        }
        guard var current = try await ensureFinalizer(torrent) else { return .done }
        try await deleteOrphans(of: name, keepingOwner: current.metadata.uid)

        guard let hub = current.spec.hub else {
            try await writeStatus(of: current) { status, generation, now in
                status.phase = .failed
                Self.setPhaseConditions(
                    &status.conditions, active: Torrent.ConditionType.pending, reason: "NoSource", message: "spec.hub is required",
                    generation: generation, now: now)
            }
            return .done
        }
        if current.status?.phase == .failed, current.status?.observedGeneration == current.metadata.generation,
            current.status?.conditions?[type: Torrent.ConditionType.pending]?.reason == "RevisionNotFound"
        {
            // Nothing changed since the hub said no; look again only now and then, in case the repo appears.
            return .after(configuration.retryMaxDelay)
        }
        if current.status?.repo.map({ !$0.matches(hub) }) ?? true {
            guard let resolved = try await resolve(current, hub: hub) else { return .done }
            current = resolved
        }
        guard let repo = current.status?.repo else { return .done }

        let owned = replications.items.filter { $0.metadata.ownerReferences?.contains { $0.uid == current.metadata.uid } ?? false }
        let lazy = !current.spec.effectivePreheat
        try await retireLostAndOutdated(owned, repo: repo, lazy: lazy)
        let podNodes = nodesOfPods(using: current.name)
        let placed =
            lazy
            ? try await registerOnEligibleNodes(current, repo: repo, owned: owned)
            : try await scale(current, repo: repo, owned: owned, podNodes: podNodes)
        let forPods = try await placeForPods(current, repo: repo, owned: owned, placed: placed, podNodes: podNodes)
        let outcome = try await rollUp(current, repo: repo, active: placed, forPods: forPods)
        try await syncNodeLabels(of: current.name, holders: Self.holders(placed + forPods))
        return outcome
    }

    // MARK: Steps

    private func ensureFinalizer(_ torrent: Torrent) async throws -> Torrent? {
        if torrent.metadata.hasFinalizer(Torrent.finalizer) { return torrent }
        return try await client.modify(Torrent.self, name: torrent.name) { torrent in
            guard !torrent.metadata.hasFinalizer(Torrent.finalizer), !torrent.metadata.isDeleting else { return false }
            torrent.metadata.finalizers = (torrent.metadata.finalizers ?? []) + [Torrent.finalizer]
            return true
        }
    }

    private func resolve(_ torrent: Torrent, hub: Torrent.Hub) async throws -> Torrent? {
        do {
            let resolved = try await resolver.resolve(
                hub: hub.effectiveName, repoID: hub.repoID, revision: hub.effectiveRevision, filename: hub.filename)
            let repo = Torrent.RepoStatus(
                repoID: hub.repoID, revision: hub.effectiveRevision, filename: hub.filename, commit: resolved.commit, files: resolved.files)
            logger.info(
                "resolved revision", metadata: ["torrent": "\(torrent.name)", "commit": "\(resolved.commit)", "files": "\(resolved.files.count)"])
            return try await writeStatus(of: torrent) { status, _, _ in
                status.repo = repo
                status.manifestDigest = nil
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            // A resolver error of another type is treated as the hub being unavailable: retried.
            let error = error as? RevisionResolverError ?? .unavailable("\(error)")
            let permanent: Bool
            if case .notFound = error { permanent = true } else { permanent = false }
            try await writeStatus(of: torrent) { status, generation, now in
                if permanent { status.phase = .failed }
                Self.setPhaseConditions(
                    &status.conditions, active: Torrent.ConditionType.pending, reason: permanent ? "RevisionNotFound" : "HubUnavailable",
                    message: "\(hub.repoID)@\(hub.effectiveRevision): \(error)", generation: generation, now: now)
            }
            await events.record(torrent, .warning, reason: "ResolveFailed", message: "\(error)")
            if permanent { return nil }
            throw error
        }
    }

    /// Replications on nodes that are gone, for an older commit, or registered lazily for a Torrent now
    /// preheated, make way for new ones.
    private func retireLostAndOutdated(_ owned: [Replication], repo: Torrent.RepoStatus, lazy: Bool) async throws {
        for replication in owned {
            if !nodeIsPresent(replication.spec.nodeName) {
                logger.info("node gone, re-placing", metadata: ["replication": "\(replication.name)"])
                try await deleteIgnoringMissing(replication)
            } else if replication.spec.source.commit != repo.commit || replication.isLazy != lazy, !replication.isReclaiming {
                try await deleteIgnoringMissing(replication)
            } else if replication.isReclaiming, replication.phase == .reclaimed {
                try await deleteIgnoringMissing(replication)
            }
        }
    }

    /// Creates or retires Replications so `replicas` of them are active, apart from those placed for pods;
    /// returns the active ones.
    private func scale(_ torrent: Torrent, repo: Torrent.RepoStatus, owned: [Replication], podNodes: Set<String>) async throws -> [Replication] {
        var active = owned.filter { isActive($0, repo: repo, lazy: !torrent.spec.effectivePreheat) && !$0.isForPods }
        let desired = torrent.spec.effectiveReplicas
        if active.count > desired {
            // Keep the ones pods use, then those furthest along.
            let ranked = active.sorted { lhs, rhs in
                let leftUsed = podNodes.contains(lhs.spec.nodeName)
                let rightUsed = podNodes.contains(rhs.spec.nodeName)
                if leftUsed != rightUsed { return leftUsed }
                let left = Self.progressRank(lhs)
                let right = Self.progressRank(rhs)
                return left != right ? left > right : lhs.spec.nodeName < rhs.spec.nodeName
            }
            for surplus in ranked.dropFirst(desired) {
                try await retire(surplus, policy: torrent.spec.effectiveReclaimPolicy)
            }
            active = Array(ranked.prefix(desired))
        } else if active.count < desired {
            let occupied = Set(owned.map(\.spec.nodeName))
            let placement = configuration.scheduler.place(
                SchedulingRequest(torrent: torrent, repo: repo), on: nodeCandidates(), count: desired - active.count, occupied: occupied)
            for node in placement.nodes {
                active.append(try await createReplication(for: torrent, repo: repo, node: node))
            }
            if active.count < desired {
                lastPlacementShortfall.withLock { $0[torrent.name] = placement.explanation }
            } else {
                lastPlacementShortfall.withLock { $0[torrent.name] = nil }
            }
        } else {
            lastPlacementShortfall.withLock { $0[torrent.name] = nil }
        }
        return active
    }

    /// `active` are the Replications the Torrent itself asks for (`replicas`, or every eligible node without
    /// preheat); they make its phase. Those placed for pods only show in the per-node progress.
    private func rollUp(_ torrent: Torrent, repo: Torrent.RepoStatus, active: [Replication], forPods: [Replication]) async throws -> Outcome {
        let lazy = !torrent.spec.effectivePreheat
        let desired = lazy ? active.count : torrent.spec.effectiveReplicas
        let progress = (active + forPods).sorted { $0.spec.nodeName < $1.spec.nodeName }.map { replication in
            Torrent.NodeProgress(
                nodeName: replication.spec.nodeName, phase: replication.phase, bytesDone: replication.status?.bytesDone ?? 0,
                bytesTotal: replication.status?.bytesTotal ?? repo.totalBytes, message: replication.status?.message)
        }
        let ready = active.filter { $0.phase == .ready }
        let failed = active.filter { $0.phase == .failed }
        let shortfall = lastPlacementShortfall.withLock { $0[torrent.name] }
        let updated = try await writeStatus(of: torrent) { status, generation, now in
            status.nodes = progress
            status.readyReplicas = Int32(ready.count)
            status.manifestDigest = ready.lazy.compactMap { $0.status?.manifestDigest }.first ?? status.manifestDigest
            if ready.count >= desired, !active.isEmpty || !lazy {
                status.phase = .ready
                Self.setPhaseConditions(
                    &status.conditions, active: Torrent.ConditionType.ready, reason: lazy ? "Registered" : "Replicated",
                    message: lazy
                        ? "preheat is false: registered on \(ready.count) nodes, the model loads on first read"
                        : "\(ready.count)/\(desired) replicas ready",
                    generation: generation, now: now)
            } else if !failed.isEmpty {
                status.phase = .replicating
                let detail = failed.map { "\($0.spec.nodeName): \($0.status?.message ?? "failed")" }.joined(separator: "; ")
                Self.setPhaseConditions(
                    &status.conditions, active: Torrent.ConditionType.replicating, reason: "ReplicationFailed",
                    message: detail, generation: generation, now: now)
            } else if active.isEmpty {
                status.phase = .pending
                Self.setPhaseConditions(
                    &status.conditions, active: Torrent.ConditionType.pending, reason: "Unschedulable",
                    message: shortfall ?? "waiting for nodes", generation: generation, now: now)
            } else {
                status.phase = .replicating
                let message = "\(ready.count)/\(desired) replicas ready" + (shortfall.map { "; \($0)" } ?? "")
                Self.setPhaseConditions(
                    &status.conditions, active: Torrent.ConditionType.replicating,
                    reason: shortfall == nil ? "Replicating" : "PartiallyScheduled", message: message, generation: generation, now: now)
            }
        }
        if torrent.status?.phase != .ready, let updated, updated.status?.phase == .ready {
            await events.record(
                updated, .normal, reason: "Ready",
                message: lazy ? "\(ready.count) nodes have the model registered" : "\(ready.count)/\(desired) replicas hold the model")
        }
        guard let updated, updated.status?.phase == .ready, let ttl = updated.spec.ttlSecondsAfterReady,
            let readyAt = updated.status?.conditions?[type: Torrent.ConditionType.ready]?.lastTransitionTime
        else { return .done }
        let remaining = readyAt.addingTimeInterval(TimeInterval(ttl)).timeIntervalSinceNow
        if remaining > 0 { return .after(.milliseconds(Int64(remaining * 1000) + 1)) }
        logger.info("ttlSecondsAfterReady passed, deleting", metadata: ["torrent": "\(torrent.name)"])
        await events.record(updated, .normal, reason: "Expired", message: "deleted \(ttl)s after Ready (ttlSecondsAfterReady)")
        do {
            try await client.delete(Torrent.self, name: torrent.name)
        } catch let error as KubeError where error.isNotFound {}
        return .done
    }

    /// A deleted Torrent: Retain drops the Replications (agents keep the files); Delete first asks each agent to
    /// reclaim and waits for `Reclaimed` (or the node to go). The finalizer goes last.
    private func finalize(_ torrent: Torrent) async throws -> Outcome {
        guard torrent.metadata.hasFinalizer(Torrent.finalizer) else { return .done }
        if torrent.status?.phase != .reclaiming {
            try await writeStatus(of: torrent) { status, generation, now in
                status.phase = .reclaiming
                Self.setPhaseConditions(
                    &status.conditions, active: Torrent.ConditionType.reclaiming, reason: "Deleting",
                    message: "releasing replicas (reclaimPolicy \(torrent.spec.effectiveReclaimPolicy.rawValue))", generation: generation, now: now)
            }
        }
        let owned = replications.items.filter { $0.spec.torrentName == torrent.name }
        var waiting = 0
        for replication in owned {
            if try await retire(replication, policy: torrent.spec.effectiveReclaimPolicy) { waiting += 1 }
        }
        if waiting > 0 { return .after(configuration.reclaimRecheck) }
        try await syncNodeLabels(of: torrent.name, holders: [:])
        try await client.modify(Torrent.self, name: torrent.name) { torrent in
            guard let index = torrent.metadata.finalizers?.firstIndex(of: Torrent.finalizer) else { return false }
            torrent.metadata.finalizers?.remove(at: index)
            return true
        }
        logger.info("released", metadata: ["torrent": "\(torrent.name)"])
        return .done
    }

    /// Ends one replica; true while it waits for its agent to report `Reclaimed`.
    @discardableResult
    func retire(_ replication: Replication, policy: Torrent.ReclaimPolicy) async throws -> Bool {
        let agentGone = !nodeIsPresent(replication.spec.nodeName)
        if policy == .retain || agentGone || replication.phase == .reclaimed {
            try await deleteIgnoringMissing(replication)
            return false
        }
        if !replication.isReclaiming {
            do {
                _ = try await client.mergePatch(Replication.self, name: replication.name, patch: ["spec": ["reclaim": true]])
            } catch let error as KubeError where error.isNotFound {
                return false
            }
        }
        return true
    }

    // MARK: Helpers

    /// Creates the Replication of `torrent` on `node` (lazy for `preheat: false`), or returns the one there.
    func createReplication(for torrent: Torrent, repo: Torrent.RepoStatus, node: String, forPods: Bool = false) async throws -> Replication {
        var labels = [Torrent.nameLabel: torrent.name, Replication.nodeLabel: node]
        if forPods { labels[Replication.podsLabel] = "true" }
        let metadata = ObjectMeta(
            name: Replication.name(torrent: torrent.name, node: node), labels: labels, ownerReferences: [torrent.ownerReference])
        let source = Replication.Source(
            hub: torrent.spec.hub?.effectiveName ?? Torrent.Hub.huggingface, repoID: repo.repoID, revision: repo.revision,
            commit: repo.commit, filename: repo.filename, totalBytes: repo.totalBytes)
        let lazy = !torrent.spec.effectivePreheat
        let replication = Replication(
            metadata: metadata, spec: .init(torrentName: torrent.name, nodeName: node, source: source, lazy: lazy ? true : nil))
        do {
            let created = try await client.create(replication)
            let what = lazy ? "lazy registration" : "replica"
            let why = forPods ? " for the pods bound there" : ""
            logger.info("placed \(what)", metadata: ["torrent": "\(torrent.name)", "node": "\(node)", "for pods": "\(forPods)"])
            await events.record(torrent, .normal, reason: "Scheduled", message: "\(what) placed on node \(node)\(why)")
            return created
        } catch let error as KubeError where error.isAlreadyExists {
            return try await client.get(Replication.self, name: replication.name)
        }
    }

    private func deleteOrphans(of torrentName: String, keepingOwner uid: String?) async throws {
        for replication in replications.items where replication.spec.torrentName == torrentName {
            let owners = replication.metadata.ownerReferences ?? []
            if let uid, owners.contains(where: { $0.uid == uid }) { continue }
            try await deleteIgnoringMissing(replication)
        }
    }

    func deleteIgnoringMissing(_ replication: Replication) async throws {
        do {
            try await client.delete(Replication.self, name: replication.name)
        } catch let error as KubeError where error.isNotFound {}
    }

    /// Placed on a present node for the current commit and the Torrent's preheat, and not being reclaimed.
    func isActive(_ replication: Replication, repo: Torrent.RepoStatus, lazy: Bool) -> Bool {
        !replication.isReclaiming && nodeIsPresent(replication.spec.nodeName) && replication.spec.source.commit == repo.commit
            && replication.isLazy == lazy
    }

    /// A node counts while both its Node object and its agent's NodeTracker exist.
    func nodeIsPresent(_ name: String) -> Bool {
        nodes.get(name) != nil && trackers.get(name) != nil
    }

    func nodeCandidates() -> [NodeCandidate] {
        trackers.items.compactMap { tracker in
            guard let node = nodes.get(tracker.nodeName) else { return nil }
            return NodeCandidate(name: node.name, labels: node.labels, unschedulable: node.spec?.unschedulable ?? false, tracker: tracker.status)
        }
    }

    private static func progressRank(_ replication: Replication) -> Int {
        switch replication.phase {
        case .ready: 3
        case .replicating: 2
        case .pending: 1
        case .failed, .reclaiming, .reclaimed: 0
        }
    }

    /// Marks one of the phase conditions True and the others False, as the original Manta reports them; a False
    /// one gives the current phase as its reason.
    static func setPhaseConditions(_ conditions: inout [Condition]?, active: String, reason: String, message: String, generation: Int64?, now: Date) {
        var list = conditions ?? []
        for type in Torrent.ConditionType.all {
            let isActive = type == active
            list.set(
                type, isActive ? .true : .false, reason: isActive ? reason : active, message: isActive ? message : "", generation: generation,
                now: now)
        }
        conditions = list
    }

    /// Writes the status from a fresh read, retrying on conflicts. When the change leaves the given copy as
    /// it is, nothing is read or written: reconciles triggered by node heartbeats cost no API calls. (If that
    /// copy was stale, the event for the newer version triggers another reconcile.)
    @discardableResult
    private func writeStatus(of torrent: Torrent, _ change: (inout Torrent.Status, Int64?, Date) -> Void) async throws -> Torrent? {
        let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        func changed(_ object: inout Torrent) -> Bool {
            var status = object.status ?? Torrent.Status()
            change(&status, object.metadata.generation, now)
            status.observedGeneration = object.metadata.generation
            guard status != object.status else { return false }
            object.status = status
            return true
        }
        var copy = torrent
        guard changed(&copy) else { return torrent }
        return try await client.modify(Torrent.self, name: torrent.name, status: true, changed)
    }
}
