import Logging
import MantaKube
import MantaTransfer
import ServiceLifecycle

/// `manta up`'s stand-in for the kubelet: it writes this machine's Node object, with the labels Torrents'
/// nodeSelectors match and the addresses its agent is reached at, into the API once it answers, and keeps it until
/// shutdown. Other instances sharing the API believe a NodeTracker's address only when its Node lists it.
struct NodeRegistration: Service {
    let client: KubeClient
    let nodeName: String
    let labels: [String: String]
    let addresses: [String]
    let logger: Logger

    func run() async throws {
        var backoff = Backoff(initial: .milliseconds(50), maximum: .seconds(2))
        while !Task.isCancelled {
            do {
                try await register()
                break
            } catch {
                logger.debug("the embedded API does not answer yet", metadata: ["error": "\(error)"])
                try await Task.sleep(for: backoff.next())
            }
        }
        try? await gracefulShutdown()
    }

    private func register() async throws {
        let modified = try await client.modify(Node.self, name: nodeName) { node in
            let merged = node.labels.merging(labels) { $1 }
            guard merged != node.labels else { return false }
            node.metadata.labels = merged
            return true
        }
        if modified == nil {
            _ = try await client.create(Node(name: nodeName, labels: labels))
        }
        let published = addresses.map { Node.Address(type: "InternalIP", address: $0) }
        try await client.modify(Node.self, name: nodeName, status: true) { node in
            guard node.status?.addresses != published else { return false }
            node.status = Node.Status(addresses: published)
            return true
        }
        logger.info("registered this machine as a node", metadata: ["node": "\(nodeName)", "labels": "\(labels)"])
    }
}
