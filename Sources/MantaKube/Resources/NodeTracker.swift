/// What one node's agent reports about itself (cluster-scoped, named after the node).
public struct NodeTracker: KubeStatusResource, Hashable {
    public static let resourceType = ResourceType(
        group: "manta.io", version: "v1alpha1", kind: "NodeTracker", plural: "nodetrackers", namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(nodeName: String, status: Status? = nil) {
        self.apiVersion = Self.resourceType.apiVersion
        self.kind = Self.resourceType.kind
        self.metadata = ObjectMeta(name: nodeName)
        self.spec = Spec(nodeName: nodeName)
        self.status = status
    }

    public var nodeName: String { spec?.nodeName ?? name }

    public struct Spec: Sendable, Hashable, Codable {
        public var nodeName: String
        public init(nodeName: String) { self.nodeName = nodeName }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var capacityBytes: Int64?
        public var freeBytes: Int64?
        /// Bytes the store's chunks take on disk.
        public var usedBytes: Int64?
        /// `host:port` of the agent's peer service.
        public var address: String?
        public var models: [CachedModel]?
        /// The store's quota (`manta agent --quota`); nil: none, the agent evicts nothing.
        public var quotaBytes: Int64?
        /// Of `usedBytes`, what the agent would evict to make room: models nothing holds (no pin, open file, CSI
        /// volume or Replication), and garbage.
        public var evictableBytes: Int64?
        /// Bytes the mount's passthrough copies take beside `usedBytes`: counted against the quota, and all of them
        /// evictable (a cache the mount builds again; a copy open through the mount goes once it closes).
        public var passthroughBytes: Int64?

        public init(
            capacityBytes: Int64? = nil, freeBytes: Int64? = nil, usedBytes: Int64? = nil, address: String? = nil, models: [CachedModel]? = nil,
            quotaBytes: Int64? = nil, evictableBytes: Int64? = nil, passthroughBytes: Int64? = nil
        ) {
            self.capacityBytes = capacityBytes
            self.freeBytes = freeBytes
            self.usedBytes = usedBytes
            self.address = address
            self.models = models
            self.quotaBytes = quotaBytes
            self.evictableBytes = evictableBytes
            self.passthroughBytes = passthroughBytes
        }

        /// Bytes a pull could take on this node, eviction included: under a quota the free disk plus what eviction
        /// frees, but no more than the quota leaves beside what is held; without one, the free disk (nothing is
        /// evicted). Nil without a disk report.
        public var roomBytes: Int64? {
            guard let freeBytes else { return nil }
            guard let quotaBytes else { return freeBytes }
            let evictable = max(0, evictableBytes ?? 0)
            let held = max(0, (usedBytes ?? 0) - evictable)
            let (freedByEviction, copiesOverflow) = evictable.addingReportingOverflow(max(0, passthroughBytes ?? 0))
            let underQuota = max(0, quotaBytes - held)
            let (withEvicted, overflow) = freeBytes.addingReportingOverflow(copiesOverflow ? .max : freedByEviction)
            return min(overflow ? .max : withEvicted, underQuota)
        }
    }

    /// A model (or part of one) in the node's store.
    public struct CachedModel: Sendable, Hashable, Codable {
        public var repoID: String
        public var revision: String?
        public var commit: String
        public var manifestDigest: String?
        /// Bytes of the model's files already in the store.
        public var cachedBytes: Int64
        public var totalBytes: Int64

        public init(repoID: String, revision: String? = nil, commit: String, manifestDigest: String? = nil, cachedBytes: Int64, totalBytes: Int64) {
            self.repoID = repoID
            self.revision = revision
            self.commit = commit
            self.manifestDigest = manifestDigest
            self.cachedBytes = cachedBytes
            self.totalBytes = totalBytes
        }
    }
}
