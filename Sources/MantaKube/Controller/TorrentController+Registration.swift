extension TorrentController {
    /// For `preheat: false`: every eligible node (schedulable, matching `nodeSelector`) gets a lazy Replication,
    /// for which its agent registers the model from metadata alone. Nodes that stopped being eligible lose
    /// theirs (by `reclaimPolicy`); one placed there for pods becomes the node's registration. Returns the
    /// active ones.
    func registerOnEligibleNodes(_ torrent: Torrent, repo: Torrent.RepoStatus, owned: [Replication]) async throws -> [Replication] {
        let request = SchedulingRequest(torrent: torrent, repo: repo)
        let filters: [any FilterPlugin] = [UnschedulableFilter(), NodeSelectorFilter()]
        let eligible = Set(nodeCandidates().filter { node in filters.allSatisfy { $0.reject(node, for: request) == nil } }.map(\.name))
        var active: [Replication] = []
        for replication in owned where isActive(replication, repo: repo, lazy: !torrent.spec.effectivePreheat) {
            let node = replication.spec.nodeName
            if !eligible.contains(node) {
                if !replication.isForPods { try await retire(replication, policy: torrent.spec.effectiveReclaimPolicy) }
            } else if replication.isForPods {
                active.append(
                    try await client.mergePatch(
                        Replication.self, name: replication.name, patch: ["metadata": ["labels": [Replication.podsLabel: nil]]]))
            } else {
                active.append(replication)
            }
        }
        let occupied = Set(owned.map(\.spec.nodeName))
        for node in eligible.subtracting(occupied).sorted() {
            active.append(try await createReplication(for: torrent, repo: repo, node: node))
        }
        lastPlacementShortfall.withLock {
            $0[torrent.name] = eligible.isEmpty ? "no schedulable node with an agent matches the nodeSelector" : nil
        }
        return active
    }
}
