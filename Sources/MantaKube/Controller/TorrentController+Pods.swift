extension TorrentController {
    /// The present nodes that pods labelled `manta.io/torrent-name: <torrent>` are bound to and still run on.
    func nodesOfPods(using torrent: String) -> Set<String> {
        Set(pods.items.lazy.filter { $0.torrentName == torrent }.compactMap(\.nodeNeedingModel).filter(nodeIsPresent))
    }

    /// Gives each node a labelled pod is bound to a Replication of its own, apart from `replicas`, when the
    /// Torrent has none there yet, as the original Manta did for its pod label. Once no such pod is left on
    /// the node, the Replication goes with Retain semantics whatever the Torrent's reclaimPolicy (the agent
    /// unpins the model and keeps its files, as the original's temporary Torrent with `Retain` and a TTL of
    /// 0 did), so a pod that lands there again reads at once while the cache keeps it. Nodes in `placed` (the
    /// Torrent's own Replications, some perhaps just taken over from pods) are left alone. Returns the active ones.
    func placeForPods(
        _ torrent: Torrent, repo: Torrent.RepoStatus, owned: [Replication], placed: [Replication], podNodes: Set<String>
    ) async throws -> [Replication] {
        let covered = Set(placed.map(\.spec.nodeName))
        var active: [Replication] = []
        for replication in owned where replication.isForPods && !replication.isReclaiming && !covered.contains(replication.spec.nodeName) {
            if podNodes.contains(replication.spec.nodeName) {
                if isActive(replication, repo: repo, lazy: !torrent.spec.effectivePreheat) { active.append(replication) }
            } else {
                logger.info("no pod uses the model on the node any more, releasing", metadata: ["replication": "\(replication.name)"])
                try await deleteIgnoringMissing(replication)
            }
        }
        let occupied = Set(owned.map(\.spec.nodeName))
        for node in podNodes.subtracting(occupied).sorted() {
            active.append(try await createReplication(for: torrent, repo: repo, node: node, forPods: true))
        }
        return active
    }
}
