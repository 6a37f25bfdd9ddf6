/// A node the controller may place a replica on: its labels and what its agent reports.
public struct NodeCandidate: Sendable, Hashable {
    public var name: String
    public var labels: [String: String]
    public var unschedulable: Bool
    public var tracker: NodeTracker.Status?

    public init(name: String, labels: [String: String] = [:], unschedulable: Bool = false, tracker: NodeTracker.Status?) {
        self.name = name
        self.labels = labels
        self.unschedulable = unschedulable
        self.tracker = tracker
    }

    /// Bytes of this model the node already holds: the same commit fully, another commit of the same repo
    /// not at all (its identical tensors are shared, but that is known only from manifests).
    public func cachedBytes(of repo: Torrent.RepoStatus) -> Int64 {
        let models = tracker?.models ?? []
        let cached = models.filter { $0.repoID == repo.repoID && $0.commit == repo.commit }.map(\.cachedBytes).max() ?? 0
        return min(cached, repo.totalBytes)
    }

    /// Bytes the node still has to store to hold the whole model.
    public func missingBytes(of repo: Torrent.RepoStatus) -> Int64 {
        repo.totalBytes - cachedBytes(of: repo)
    }
}

/// What is being placed.
public struct SchedulingRequest: Sendable {
    public var torrent: Torrent
    public var repo: Torrent.RepoStatus

    public init(torrent: Torrent, repo: Torrent.RepoStatus) {
        self.torrent = torrent
        self.repo = repo
    }
}

/// Rules a node out, saying why.
public protocol FilterPlugin: Sendable {
    var name: String { get }
    /// nil when the node fits, otherwise the reason it does not ("didn't match nodeSelector").
    func reject(_ node: NodeCandidate, for request: SchedulingRequest) -> String?
}

/// Ranks the nodes that passed the filters, 0 (worst) to 100 (best).
public protocol ScorePlugin: Sendable {
    var name: String { get }
    func score(_ node: NodeCandidate, for request: SchedulingRequest) -> Double
}

/// The result of placing replicas.
public struct Placement: Sendable, Hashable {
    /// Chosen nodes, best first.
    public var nodes: [String]
    /// Nodes ruled out, by reason.
    public var rejections: [String: [String]]
    public var candidateCount: Int

    /// `0/3 nodes are available: 2 didn't match nodeSelector, 1 has too little free disk`.
    public var explanation: String {
        let reasons = rejections.sorted { $0.key < $1.key }.map { "\($0.value.count) \($0.key)" }
        let available = candidateCount - rejections.values.reduce(0) { $0 + $1.count }
        return "\(available)/\(candidateCount) nodes are available" + (reasons.isEmpty ? "" : ": " + reasons.joined(separator: ", "))
    }
}

/// Filter, then score with weights, then take the best; ties go to the node name, so placement is stable.
public struct Scheduler: Sendable {
    public struct WeightedScore: Sendable {
        public var plugin: any ScorePlugin
        public var weight: Double

        public init(_ plugin: any ScorePlugin, weight: Double) {
            self.plugin = plugin
            self.weight = weight
        }
    }

    public var filters: [any FilterPlugin]
    public var scores: [WeightedScore]

    public init(filters: [any FilterPlugin], scores: [WeightedScore]) {
        self.filters = filters
        self.scores = scores
    }

    /// Schedulable nodes only, nodeSelector, enough free disk; then prefer cached chunks, then free space.
    public static func standard(cacheLocalityWeight: Double = 2, diskAwareWeight: Double = 1) -> Scheduler {
        Scheduler(
            filters: [UnschedulableFilter(), NodeSelectorFilter(), DiskAwareFilter()],
            scores: [WeightedScore(CacheLocalityScore(), weight: cacheLocalityWeight), WeightedScore(DiskAwareScore(), weight: diskAwareWeight)])
    }

    /// Picks up to `count` nodes; nodes in `occupied` already hold a replica of this Torrent.
    public func place(_ request: SchedulingRequest, on candidates: [NodeCandidate], count: Int, occupied: Set<String> = []) -> Placement {
        var rejections: [String: [String]] = [:]
        var feasible: [NodeCandidate] = []
        for node in candidates {
            if occupied.contains(node.name) {
                rejections["node(s) already held a replica", default: []].append(node.name)
            } else if let reason = filters.lazy.compactMap({ $0.reject(node, for: request) }).first {
                rejections[reason, default: []].append(node.name)
            } else {
                feasible.append(node)
            }
        }
        let ranked = feasible.map { node in
            (node.name, scores.reduce(0.0) { $0 + $1.weight * $1.plugin.score(node, for: request) })
        }.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        return Placement(nodes: ranked.prefix(max(count, 0)).map(\.0), rejections: rejections, candidateCount: candidates.count)
    }
}

public struct UnschedulableFilter: FilterPlugin {
    public init() {}
    public var name: String { "Unschedulable" }
    public func reject(_ node: NodeCandidate, for request: SchedulingRequest) -> String? {
        node.unschedulable ? "node(s) were unschedulable" : nil
    }
}

public struct NodeSelectorFilter: FilterPlugin {
    public init() {}
    public var name: String { "NodeSelector" }
    public func reject(_ node: NodeCandidate, for request: SchedulingRequest) -> String? {
        let selector = request.torrent.spec.nodeSelector ?? [:]
        return selector.allSatisfy { node.labels[$0.key] == $0.value } ? nil : "node(s) didn't match nodeSelector"
    }
}

/// Rules out nodes whose agent reports less room than the part of the model they lack: free disk plus what the
/// agent's quota would evict, within the quota (`NodeTracker.Status.roomBytes`).
public struct DiskAwareFilter: FilterPlugin {
    public init() {}
    public var name: String { "DiskAware" }
    public func reject(_ node: NodeCandidate, for request: SchedulingRequest) -> String? {
        guard let room = node.tracker?.roomBytes else { return "node(s) had no disk report from the agent" }
        return room >= node.missingBytes(of: request.repo) ? nil : "node(s) had too little free disk"
    }
}

/// Prefers the node with the most room left after the pull (eviction included), as a share of its capacity (its
/// quota, when less).
public struct DiskAwareScore: ScorePlugin {
    public init() {}
    public var name: String { "DiskAware" }
    public func score(_ node: NodeCandidate, for request: SchedulingRequest) -> Double {
        guard let tracker = node.tracker, let room = tracker.roomBytes else { return 0 }
        let capacity = max(min(tracker.capacityBytes ?? room, tracker.quotaBytes ?? .max), 1)
        let left = room - node.missingBytes(of: request.repo)
        return max(0, min(100, Double(left) / Double(capacity) * 100))
    }
}

/// Prefers nodes that already hold most of the model's bytes: less to pull, and a ready peer sooner.
public struct CacheLocalityScore: ScorePlugin {
    public init() {}
    public var name: String { "CacheLocality" }
    public func score(_ node: NodeCandidate, for request: SchedulingRequest) -> Double {
        let total = request.repo.totalBytes
        guard total > 0 else { return 0 }
        return Double(node.cachedBytes(of: request.repo)) / Double(total) * 100
    }
}
