extension TorrentController {
    /// The Node label value each node should carry for a Torrent: `ready` where its Replication is Ready,
    /// `registered` where it is registered lazily.
    static func holders(_ replications: [Replication]) -> [String: String] {
        var holders: [String: String] = [:]
        for replication in replications where replication.phase == .ready && !replication.isReclaiming {
            holders[replication.spec.nodeName] = replication.isLazy ? Torrent.nodeLabelRegistered : Torrent.nodeLabelReady
        }
        return holders
    }

    /// Sets `torrent.manta.io/<name>` on the nodes in `holders` and removes it from every other node, so pods
    /// can prefer the nodes that hold the model with a nodeAffinity. Only nodes whose label differs are written.
    func syncNodeLabels(of torrentName: String, holders: [String: String]) async throws {
        let key = Torrent.nodeLabelKey(for: torrentName)
        for node in nodes.items where node.labels[key] != holders[node.name] {
            let value: JSONValue = holders[node.name].map { .string($0) } ?? .null
            do {
                _ = try await client.mergePatch(Node.self, name: node.name, patch: ["metadata": ["labels": .object([key: value])]])
            } catch let error as KubeError where error.isNotFound {}
        }
    }
}
