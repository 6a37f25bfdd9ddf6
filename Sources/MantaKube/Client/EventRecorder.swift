import Foundation
import Logging

/// Writes `core/v1` Events about objects, for `kubectl describe`. Failures are logged, never fatal.
public struct EventRecorder: Sendable {
    public enum EventType: String, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    private let client: KubeClient
    /// Events of cluster-scoped objects go to this namespace.
    private let namespace: String
    private let component: String
    private let logger: Logger

    public init(client: KubeClient, namespace: String, component: String = "manta-controller", logger: Logger = Logger(label: "manta.kube.events")) {
        self.client = client
        self.namespace = namespace
        self.component = component
        self.logger = logger
    }

    public func record<R: KubeResource>(_ object: R, _ type: EventType, reason: String, message: String) async {
        let now = Date()
        let namespace = object.metadata.namespace ?? self.namespace
        let suffix = String(UInt64(now.timeIntervalSince1970 * 1_000_000_000), radix: 16)
        var metadata = ObjectMeta(name: "\(object.name).\(suffix)", namespace: namespace)
        metadata.namespace = namespace
        let event = Event(
            apiVersion: nil, kind: nil, metadata: metadata,
            involvedObject: .init(
                apiVersion: R.resourceType.apiVersion, kind: R.resourceType.kind, name: object.name,
                namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion),
            reason: reason, message: message, type: type.rawValue, count: 1, firstTimestamp: now, lastTimestamp: now,
            source: .init(component: component, host: nil), reportingComponent: component, reportingInstance: nil)
        do {
            _ = try await client.create(event)
        } catch {
            logger.warning("could not record event", metadata: ["object": "\(object.name)", "reason": "\(reason)", "error": "\(error)"])
        }
    }
}
