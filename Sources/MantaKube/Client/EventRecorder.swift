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
    /// The node the reporter runs on (an agent's), shown as the Event's source host.
    private let host: String?
    private let logger: Logger

    public init(
        client: KubeClient, component: String = "manta-controller", host: String? = nil, logger: Logger = Logger(label: "manta.kube.events")
    ) {
        self.client = client
        self.component = component
        self.host = host
        self.logger = logger
    }

    public func record<R: KubeResource>(_ object: R, _ type: EventType, reason: String, message: String) async {
        await record(
            involving: .init(
                apiVersion: R.resourceType.apiVersion, kind: R.resourceType.kind, name: object.name,
                namespace: object.metadata.namespace, uid: object.metadata.uid, resourceVersion: object.metadata.resourceVersion),
            type, reason: reason, message: message)
    }

    /// Records an Event about an object known only by reference (an agent knows its Replication's Torrent by
    /// the owner reference).
    public func record(involving object: Event.ObjectReference, _ type: EventType, reason: String, message: String) async {
        let now = Date()
        let name = object.name ?? "unnamed"
        let suffix = String(UInt64(now.timeIntervalSince1970 * 1_000_000_000), radix: 16)
        let metadata = ObjectMeta(name: "\(name).\(suffix)", namespace: object.namespace ?? "default")
        let event = Event(
            metadata: metadata, involvedObject: object,
            reason: reason, message: message, type: type.rawValue, count: 1, firstTimestamp: now, lastTimestamp: now,
            source: .init(component: component, host: host), reportingComponent: component, reportingInstance: host)
        do {
            _ = try await client.create(event)
        } catch {
            logger.warning("could not record event", metadata: ["object": "\(name)", "reason": "\(reason)", "error": "\(error)"])
        }
    }
}
