import Foundation

/// The parts of a `core/v1` Pod the controller reads: its labels (`manta.io/torrent-name`), the node it is
/// bound to, and whether it still runs. Every other field is left out when decoding.
public struct Pod: KubeResource, Hashable {
    public static let resourceType = ResourceType(group: "", version: "v1", kind: "Pod", plural: "pods", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(name: String, namespace: String, labels: [String: String] = [:], nodeName: String? = nil, phase: Phase? = nil) {
        self.apiVersion = Self.resourceType.apiVersion
        self.kind = Self.resourceType.kind
        self.metadata = ObjectMeta(name: name, namespace: namespace, labels: labels)
        self.spec = Spec(nodeName: nodeName)
        self.status = phase.map { Status(phase: $0) }
    }

    public struct Spec: Sendable, Hashable, Codable {
        /// Set by the scheduler when the pod is bound to a node.
        public var nodeName: String?

        public init(nodeName: String? = nil) {
            self.nodeName = nodeName
        }
    }

    public struct Status: Sendable, Hashable, Codable {
        public var phase: Phase?

        public init(phase: Phase? = nil) {
            self.phase = phase
        }
    }

    public enum Phase: String, Sendable, Hashable, Codable {
        case pending = "Pending"
        case running = "Running"
        case succeeded = "Succeeded"
        case failed = "Failed"
        case unknown = "Unknown"

        /// A phase this client does not know reads as `Unknown`, so one odd pod cannot break the list.
        public init(from decoder: any Decoder) throws {
            self = Phase(rawValue: try decoder.singleValueContainer().decode(String.self)) ?? .unknown
        }
    }

    /// The Torrent named by the pod's `manta.io/torrent-name` label.
    public var torrentName: String? {
        metadata.labels?[Torrent.nameLabel].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The node the pod is bound to while it still needs its model: scheduled, neither finished nor being deleted.
    public var nodeNeedingModel: String? {
        guard let node = spec?.nodeName, !node.isEmpty, !metadata.isDeleting else { return nil }
        switch status?.phase {
        case .succeeded?, .failed?: return nil
        case .pending?, .running?, .unknown?, nil: return node
        }
    }
}
