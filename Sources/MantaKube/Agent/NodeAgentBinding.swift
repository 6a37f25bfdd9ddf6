import Logging
import MantaTransfer

/// What a node's agent does through the Kubernetes API: publish its NodeTracker, follow the Replications
/// placed on its node, and report their progress. The agent (MantaAgent) drives this; it holds no state of
/// its own beyond the informer.
public struct NodeAgentBinding: Sendable {
    public let client: KubeClient
    public let nodeName: String
    private let logger: Logger

    public init(client: KubeClient, nodeName: String, logger: Logger = Logger(label: "manta.agent.kube")) {
        self.client = client
        self.nodeName = nodeName
        self.logger = logger
    }

    /// Creates this node's NodeTracker if needed and writes its status (free space, cached models, address).
    @discardableResult
    public func publish(_ status: NodeTracker.Status) async throws -> NodeTracker {
        do {
            _ = try await client.create(NodeTracker(nodeName: nodeName))
            logger.info("created NodeTracker", metadata: ["node": "\(nodeName)"])
        } catch let error as KubeError where error.isAlreadyExists {}
        let written = try await client.modify(NodeTracker.self, name: nodeName, status: true) { tracker in
            guard tracker.status != status else { return false }
            tracker.status = status
            return true
        }
        guard let written else {
            throw KubeError.api(code: 404, reason: "NotFound", message: "NodeTracker \(nodeName) was deleted while being written; publish again")
        }
        return written
    }

    /// An informer over the Replications placed on this node; run it, and act on its events.
    public func replications(
        backoff: Backoff = Backoff(), handler: @escaping @Sendable (InformerEvent<Replication>) -> Void
    ) -> Informer<Replication> {
        Informer(client: client, labelSelector: "\(Replication.nodeLabel)=\(nodeName)", backoff: backoff, logger: logger, handler: handler)
    }

    /// Writes the status of one of this node's Replications; returns nil if it is gone (deleted meanwhile).
    @discardableResult
    public func report(_ replicationName: String, _ status: Replication.Status) async throws -> Replication? {
        try await client.modify(Replication.self, name: replicationName, status: true) { replication in
            guard replication.spec.nodeName == nodeName else {
                throw KubeError.api(
                    code: 403, reason: "Forbidden",
                    message: "Replication \(replicationName) belongs to node \(replication.spec.nodeName), not \(nodeName)")
            }
            var status = status
            status.observedGeneration = replication.metadata.generation
            guard replication.status != status else { return false }
            replication.status = status
            return true
        }
    }
}
