import Foundation
import Logging

/// Writes `core/v1` Events about objects, for `kubectl describe`. Failures are logged, never fatal.
///
/// Events about cluster-scoped objects (all of Manta's) must live in the `default` namespace: the API
/// server rejects a core/v1 Event whose namespace differs from its object's, and "no namespace" means
/// `default` there.
public struct EventRecorder: Sendable {
    public enum EventType: String, Sendable {
        case normal = "Normal"
        case warning = "Warning"
    }

    private let client: KubeClient
    private let component: String
    private let logger: Logger

    public init(client: KubeClient, component: String = "manta-controller", logger: Logger = Logger(label: "manta.kube.events")) {
        self.client = client
        self.component = component
        self.logger = logger
    }

    public func record<R: KubeResource>(_ object: R, _ type: EventType, reason: String, message: String) async {
        let now = Date()
        let namespace = object.metadata.namespace ?? "default"
        let suffix = String(UInt64(now.timeIntervalSince1970 * 1_000_000_000), radix: 16)
        let metadata = ObjectMeta(name: "\(object.name).\(suffix)", namespace: namespace)
        let event = Event(
            metadata: metadata,
            involvedObject: .init(
                apiVersion: R.resourceType.apiVersion, kind: R.resourceType.kind, name: object.name,
                namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion),
            reason: reason, message: message, type: type.rawValue, count: 1, firstTimestamp: now, lastTimestamp: now,
            source: .init(component: component), reportingComponent: component, reportingInstance: nil)
        do {
            _ = try await client.create(event)
        } catch {
            logger.warning("could not record event", metadata: ["object": "\(object.name)", "reason": "\(reason)", "error": "\(error)"])
        }
    }
}
