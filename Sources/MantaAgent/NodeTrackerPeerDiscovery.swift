import Logging
import MantaKube
import MantaPeer

/// The peers of a node in a cluster: the addresses the other agents publish in their NodeTrackers, read from
/// an informer's cache (run it with `run()`), so a fetch always sees the nodes as they are now.
public struct NodeTrackerPeerDiscovery: PeerDiscovery {
    public let nodeName: String
    let trackers: Informer<NodeTracker>

    public init(client: KubeClient, nodeName: String, backoff: Backoff = Backoff(), logger: Logger = Logger(label: "manta.agent.discovery")) {
        self.nodeName = nodeName
        trackers = Informer(client: client, backoff: backoff, logger: logger) { _ in }
    }

    public func peers() async -> [PeerAddress] {
        Self.peers(in: trackers.items, excluding: nodeName)
    }

    /// Follows the NodeTrackers until cancelled.
    public func run() async { await trackers.run() }

    public func waitForSync() async { await trackers.waitForSync() }

    /// Every other node's published address that parses as `host:port`, in node-name order.
    static func peers(in trackers: [NodeTracker], excluding nodeName: String) -> [PeerAddress] {
        trackers.filter { $0.nodeName != nodeName }.sorted { $0.nodeName < $1.nodeName }.compactMap { tracker in
            tracker.status?.address.flatMap(PeerAddress.init(parsing:))
        }
    }
}
