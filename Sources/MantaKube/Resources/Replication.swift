/// One (Torrent, node) work item: the node's agent pulls the model and reports progress in the status.
public struct Replication: KubeStatusResource, Hashable {
    public static let resourceType = ResourceType(
        group: "manta.io", version: "v1alpha1", kind: "Replication", plural: "replications", namespaced: false)

    /// The label naming the node, so an agent can watch only its own Replications.
    public static let nodeLabel = "manta.io/node-name"
    /// Marks a Replication placed because a pod labelled `manta.io/torrent-name` is bound to its node, apart
    /// from the Torrent's `replicas`; it goes when no such pod is left there.
    public static let podsLabel = "manta.io/placed-for-pods"

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(metadata: ObjectMeta, spec: Spec) {
        self.apiVersion = Self.resourceType.apiVersion
        self.kind = Self.resourceType.kind
        self.metadata = metadata
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var torrentName: String
        public var nodeName: String
        public var source: Source
        /// Set by the controller when the Torrent (or this replica) goes with `reclaimPolicy: Delete`:
        /// the agent unpins the model, frees the chunks nothing else uses, then reports `Reclaimed`.
        public var reclaim: Bool?
        /// Set for a Torrent with `preheat: false`: the agent registers the model from its metadata only, so that
        /// the mount shows it at once and fetches chunks on first read.
        public var lazy: Bool?

        public init(torrentName: String, nodeName: String, source: Source, reclaim: Bool? = nil, lazy: Bool? = nil) {
            self.torrentName = torrentName
            self.nodeName = nodeName
            self.source = source
            self.reclaim = reclaim
            self.lazy = lazy
        }
    }

    public struct Source: Sendable, Hashable, Codable {
        public var hub: String
        public var repoID: String
        public var revision: String
        public var commit: String
        public var filename: String?
        public var totalBytes: Int64

        public init(hub: String, repoID: String, revision: String, commit: String, filename: String?, totalBytes: Int64) {
            self.hub = hub
            self.repoID = repoID
            self.revision = revision
            self.commit = commit
            self.filename = filename
            self.totalBytes = totalBytes
        }
    }

    public enum Phase: String, Sendable, Hashable, Codable {
        case pending = "Pending"
        case replicating = "Replicating"
        case ready = "Ready"
        case failed = "Failed"
        case reclaiming = "Reclaiming"
        case reclaimed = "Reclaimed"
    }

    public struct Status: Sendable, Hashable, Codable {
        public var phase: Phase?
        public var bytesDone: Int64?
        public var bytesTotal: Int64?
        public var manifestDigest: String?
        public var message: String?
        public var observedGeneration: Int64?

        public init(phase: Phase? = nil, bytesDone: Int64? = nil, bytesTotal: Int64? = nil, manifestDigest: String? = nil, message: String? = nil) {
            self.phase = phase
            self.bytesDone = bytesDone
            self.bytesTotal = bytesTotal
            self.manifestDigest = manifestDigest
            self.message = message
        }
    }

    public var isReclaiming: Bool { spec.reclaim ?? false }
    public var isLazy: Bool { spec.lazy ?? false }
    public var isForPods: Bool { metadata.labels?[Self.podsLabel] == "true" }
    public var phase: Phase { status?.phase ?? .pending }

    /// `<torrent>.<node>`, a valid object name as long as both parts are.
    public static func name(torrent: String, node: String) -> String { "\(torrent).\(node)" }
}
