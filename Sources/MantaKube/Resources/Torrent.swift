import Foundation

/// A model to place on nodes, as the original Manta writes it (`manta.io/v1alpha1`, cluster-scoped).
public struct Torrent: KubeStatusResource, Hashable {
    public static let resourceType = ResourceType(group: "manta.io", version: "v1alpha1", kind: "Torrent", plural: "torrents", namespaced: false)

    /// The pod label naming the Torrent whose model a pod needs.
    public static let nameLabel = "manta.io/torrent-name"
    /// Held by the controller until a deleted Torrent's replicas are released.
    public static let finalizer = "manta.io/torrent-protect"

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: Status?

    public init(name: String, spec: Spec, labels: [String: String]? = nil) {
        self.apiVersion = Self.resourceType.apiVersion
        self.kind = Self.resourceType.kind
        self.metadata = ObjectMeta(name: name, labels: labels)
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var hub: Hub?
        /// Pull the model onto nodes ahead of use; false only registers it (mounts load lazily).
        public var preheat: Bool?
        public var replicas: Int32?
        public var reclaimPolicy: ReclaimPolicy?
        /// Delete the Torrent this long after it became Ready; absent keeps it.
        public var ttlSecondsAfterReady: Int64?
        public var nodeSelector: [String: String]?

        public init(
            hub: Hub?, preheat: Bool? = nil, replicas: Int32? = nil, reclaimPolicy: ReclaimPolicy? = nil,
            ttlSecondsAfterReady: Int64? = nil, nodeSelector: [String: String]? = nil
        ) {
            self.hub = hub
            self.preheat = preheat
            self.replicas = replicas
            self.reclaimPolicy = reclaimPolicy
            self.ttlSecondsAfterReady = ttlSecondsAfterReady
            self.nodeSelector = nodeSelector
        }

        public var effectivePreheat: Bool { preheat ?? true }
        public var effectiveReplicas: Int { Int(replicas ?? 1) }
        public var effectiveReclaimPolicy: ReclaimPolicy { reclaimPolicy ?? .retain }
    }

    public struct Hub: Sendable, Hashable, Codable {
        public static let huggingface = "Huggingface"

        public var name: String?
        public var repoID: String
        /// One file of the repo instead of all of it (e.g. one GGUF quantization).
        public var filename: String?
        /// Branch, tag or commit.
        public var revision: String?

        public init(name: String? = nil, repoID: String, filename: String? = nil, revision: String? = nil) {
            self.name = name
            self.repoID = repoID
            self.filename = filename
            self.revision = revision
        }

        public var effectiveName: String { name ?? Self.huggingface }
        public var effectiveRevision: String { revision ?? "main" }
    }

    public enum ReclaimPolicy: String, Sendable, Hashable, Codable, CaseIterable {
        /// Keep the files on the nodes when the Torrent goes.
        case retain = "Retain"
        /// Free the chunks no other Torrent, pin or open file uses.
        case delete = "Delete"
    }

    public enum Phase: String, Sendable, Hashable, Codable {
        case pending = "Pending"
        case replicating = "Replicating"
        case ready = "Ready"
        case reclaiming = "Reclaiming"
        case failed = "Failed"
    }

    /// Condition types, as in the original Manta.
    public enum ConditionType {
        public static let pending = "Pending"
        public static let replicating = "Replicating"
        public static let ready = "Ready"
        public static let reclaiming = "Reclaiming"
        public static let all = [pending, replicating, ready, reclaiming]
    }

    public struct Status: Sendable, Hashable, Codable {
        public var conditions: [Condition]?
        public var phase: Phase?
        public var repo: RepoStatus?
        public var manifestDigest: String?
        public var nodes: [NodeProgress]?
        public var readyReplicas: Int32?
        public var observedGeneration: Int64?

        public init() {}
    }

    /// The hub revision resolved to a commit.
    public struct RepoStatus: Sendable, Hashable, Codable {
        public var repoID: String
        public var revision: String
        public var filename: String?
        public var commit: String
        public var files: [RepoFile]

        public init(repoID: String, revision: String, filename: String?, commit: String, files: [RepoFile]) {
            self.repoID = repoID
            self.revision = revision
            self.filename = filename
            self.commit = commit
            self.files = files
        }

        public var totalBytes: Int64 { files.reduce(0) { $0 + $1.size } }

        func matches(_ hub: Hub) -> Bool {
            repoID == hub.repoID && revision == hub.effectiveRevision && filename == hub.filename
        }
    }

    public struct RepoFile: Sendable, Hashable, Codable {
        public var path: String
        public var size: Int64
        /// The whole-file SHA-256 (the hub's LFS oid), when the hub gives one.
        public var sha256: String?

        public init(path: String, size: Int64, sha256: String?) {
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    public struct NodeProgress: Sendable, Hashable, Codable {
        public var nodeName: String
        public var phase: Replication.Phase
        public var bytesDone: Int64
        public var bytesTotal: Int64
        public var message: String?

        public init(nodeName: String, phase: Replication.Phase, bytesDone: Int64, bytesTotal: Int64, message: String? = nil) {
            self.nodeName = nodeName
            self.phase = phase
            self.bytesDone = bytesDone
            self.bytesTotal = bytesTotal
            self.message = message
        }
    }
}
