import Foundation

/// A cluster node, for its labels, schedulability, and the addresses its agent may be reached on.
public struct Node: KubeResource, Hashable {
    public static let resourceType = ResourceType(group: "", version: "v1", kind: "Node", plural: "nodes", namespaced: false)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?
    public var status: Status?

    public init(name: String, labels: [String: String] = [:], unschedulable: Bool = false, addresses: [Address] = [], podCIDRs: [String] = []) {
        self.apiVersion = Self.resourceType.apiVersion
        self.kind = Self.resourceType.kind
        self.metadata = ObjectMeta(name: name, labels: labels)
        self.spec = Spec(unschedulable: unschedulable, podCIDRs: podCIDRs.isEmpty ? nil : podCIDRs)
        self.status = addresses.isEmpty ? nil : Status(addresses: addresses)
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var unschedulable: Bool?
        /// The ranges the node's pods get their IPs from (set by the node IPAM controller; absent with some CNIs).
        public var podCIDR: String?
        public var podCIDRs: [String]?
    }

    public struct Status: Sendable, Hashable, Codable {
        public var addresses: [Address]?

        public init(addresses: [Address]?) {
            self.addresses = addresses
        }
    }

    /// One of `status.addresses`: `InternalIP`, `ExternalIP`, `Hostname`, `InternalDNS` or `ExternalDNS`.
    public struct Address: Sendable, Hashable, Codable {
        public var type: String
        public var address: String

        public init(type: String, address: String) {
            self.type = type
            self.address = address
        }
    }

    public var labels: [String: String] { metadata.labels ?? [:] }

    /// The labels placement depends on: all but the controller's `torrent.manta.io/` ones.
    public var placementLabels: [String: String] {
        labels.filter { !$0.key.hasPrefix(Torrent.nodeLabelPrefix) }
    }
}

/// A `coordination.k8s.io/v1` Lease, the lock of leader election.
public struct Lease: KubeResource, Hashable {
    public static let resourceType = ResourceType(group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var spec: Spec?

    public init(name: String, namespace: String, spec: Spec) {
        self.apiVersion = Self.resourceType.apiVersion
        self.kind = Self.resourceType.kind
        self.metadata = ObjectMeta(name: name, namespace: namespace)
        self.spec = spec
    }

    public struct Spec: Sendable, Hashable, Codable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int32?
        /// MicroTime strings (`2006-01-02T15:04:05.000000Z`), as the API server requires for Leases.
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int32?

        public init(
            holderIdentity: String? = nil, leaseDurationSeconds: Int32? = nil, acquireTime: String? = nil, renewTime: String? = nil,
            leaseTransitions: Int32? = nil
        ) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }
}

/// A `core/v1` Event.
public struct Event: KubeResource, Hashable {
    public static let resourceType = ResourceType(group: "", version: "v1", kind: "Event", plural: "events", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var involvedObject: ObjectReference
    public var reason: String?
    public var message: String?
    public var type: String?
    public var count: Int32?
    public var firstTimestamp: Date?
    public var lastTimestamp: Date?
    public var source: Source?
    public var reportingComponent: String?
    public var reportingInstance: String?

    public init(
        metadata: ObjectMeta, involvedObject: ObjectReference, reason: String?, message: String?, type: String? = nil,
        count: Int32? = nil, firstTimestamp: Date? = nil, lastTimestamp: Date? = nil, source: Source? = nil,
        reportingComponent: String? = nil, reportingInstance: String? = nil
    ) {
        self.apiVersion = Self.resourceType.apiVersion
        self.kind = Self.resourceType.kind
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.type = type
        self.count = count
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.source = source
        self.reportingComponent = reportingComponent
        self.reportingInstance = reportingInstance
    }

    public struct ObjectReference: Sendable, Hashable, Codable {
        public var apiVersion: String?
        public var kind: String?
        public var name: String?
        public var namespace: String?
        public var uid: String?
        public var resourceVersion: String?

        public init(apiVersion: String?, kind: String?, name: String?, namespace: String? = nil, uid: String? = nil, resourceVersion: String? = nil) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.uid = uid
            self.resourceVersion = resourceVersion
        }
    }

    public struct Source: Sendable, Hashable, Codable {
        public var component: String?
        public var host: String?

        public init(component: String?, host: String? = nil) {
            self.component = component
            self.host = host
        }
    }
}
