import Foundation

/// The `metadata` of a Kubernetes object: the fields Manta reads or writes.
public struct ObjectMeta: Sendable, Hashable, Codable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var creationTimestamp: Date?
    public var deletionTimestamp: Date?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var finalizers: [String]?
    public var ownerReferences: [OwnerReference]?

    public init(
        name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
        annotations: [String: String]? = nil, finalizers: [String]? = nil, ownerReferences: [OwnerReference]? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.finalizers = finalizers
        self.ownerReferences = ownerReferences
    }

    public var isDeleting: Bool { deletionTimestamp != nil }

    public func hasFinalizer(_ finalizer: String) -> Bool { finalizers?.contains(finalizer) ?? false }
}

public struct OwnerReference: Sendable, Hashable, Codable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = true, blockOwnerDeletion: Bool? = true) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

public struct ListMeta: Sendable, Hashable, Codable {
    public var resourceVersion: String?
    public var `continue`: String?
}

/// A `metav1.Condition`.
public struct Condition: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Codable {
        case `true` = "True"
        case `false` = "False"
        case unknown = "Unknown"
    }

    public var type: String
    public var status: Status
    public var reason: String
    public var message: String
    public var lastTransitionTime: Date
    public var observedGeneration: Int64?

    public init(type: String, status: Status, reason: String, message: String, lastTransitionTime: Date, observedGeneration: Int64? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }
}

extension Array where Element == Condition {
    public subscript(type type: String) -> Condition? {
        first { $0.type == type }
    }

    /// Sets a condition, keeping its `lastTransitionTime` when the status did not change.
    public mutating func set(_ type: String, _ status: Condition.Status, reason: String, message: String, generation: Int64?, now: Date) {
        if let index = firstIndex(where: { $0.type == type }) {
            let transitioned = self[index].status != status
            self[index] = Condition(
                type: type, status: status, reason: reason, message: message,
                lastTransitionTime: transitioned ? now : self[index].lastTransitionTime, observedGeneration: generation)
        } else {
            append(Condition(type: type, status: status, reason: reason, message: message, lastTransitionTime: now, observedGeneration: generation))
        }
    }
}

/// A `metav1.Status`, the body of API errors and of watch `ERROR` events.
public struct KubeStatus: Sendable, Hashable, Codable {
    public var kind: String?
    public var apiVersion: String?
    public var status: String?
    public var message: String?
    public var reason: String?
    public var code: Int?

    public init(status: String = "Failure", message: String, reason: String, code: Int) {
        self.kind = "Status"
        self.apiVersion = "v1"
        self.status = status
        self.message = message
        self.reason = reason
        self.code = code
    }
}
