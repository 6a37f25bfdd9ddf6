import Logging
import MantaKube
import MantaPeer
import MantaTransfer
import Synchronization

/// The peers of a node in a cluster: the addresses the other agents publish in their NodeTrackers, read from
/// informers' caches (run them with `run()`), so a fetch always sees the nodes as they are now.
///
/// Peers get the cluster token with every request, so a NodeTracker is believed only as far as the cluster vouches
/// for it: its Node must exist, and the address must be one of that Node's `status.addresses` or lie in its pod CIDRs
/// (the agent's pod IP). A tracker written by a stolen agent identity can then point only at its own node.
public struct NodeTrackerPeerDiscovery: PeerDiscovery {
    public let nodeName: String
    let trackers: Informer<NodeTracker>
    let nodes: Informer<Node>
    let skips: SkipLog

    public init(client: KubeClient, nodeName: String, backoff: Backoff = Backoff(), logger: Logger = Logger(label: "manta.agent.discovery")) {
        self.nodeName = nodeName
        trackers = Informer(client: client, backoff: backoff, logger: logger) { _ in }
        nodes = Informer(client: client, backoff: backoff, logger: logger) { _ in }
        skips = SkipLog(logger: logger)
    }

    public func peers() async -> [PeerAddress] {
        let (peers, skipped) = Self.peers(in: trackers.items, nodes: nodes.items, excluding: nodeName)
        skips.report(skipped)
        return peers
    }

    /// Follows the NodeTrackers and the Nodes until cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await trackers.run() }
            group.addTask { await nodes.run() }
        }
    }

    public func waitForSync() async {
        await trackers.waitForSync()
        await nodes.waitForSync()
    }

    /// A NodeTracker left out, and why.
    struct Skipped: Hashable, Sendable {
        let tracker: String
        let address: String
        let reason: String
    }

    /// Every other node's published address that parses as `host:port` and that its Node vouches for, in node-name
    /// order; the trackers left out for a reason worth logging.
    static func peers(in trackers: [NodeTracker], nodes: [Node], excluding nodeName: String) -> (peers: [PeerAddress], skipped: [Skipped]) {
        let nodesByName = Dictionary(nodes.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var peers: [PeerAddress] = []
        var skipped: [Skipped] = []
        for tracker in trackers.filter({ $0.name != nodeName }).sorted(by: { $0.name < $1.name }) {
            guard let text = tracker.status?.address, let address = PeerAddress(parsing: text) else { continue }
            // The tracker's name is what the admission policy ties to the writer's node; a spec naming another is forged.
            if let claimed = tracker.spec?.nodeName, claimed != tracker.name {
                skipped.append(Skipped(tracker: tracker.name, address: text, reason: "its spec.nodeName '\(claimed)' is not its name"))
            } else if let node = nodesByName[tracker.name] {
                if vouches(node, forHost: address.host) {
                    peers.append(address)
                } else {
                    skipped.append(
                        Skipped(
                            tracker: tracker.name, address: text,
                            reason: "the host is neither one of the Node's status.addresses nor in its pod CIDRs"))
                }
            } else {
                skipped.append(Skipped(tracker: tracker.name, address: text, reason: "no Node of that name exists"))
            }
        }
        return (peers, skipped)
    }

    /// Whether `host` is one of `node`'s own addresses, or an IP in one of its pod CIDRs.
    public static func vouches(_ node: Node, forHost host: String) -> Bool {
        let ip = IPAddressBytes(host)
        for address in node.status?.addresses ?? [] {
            if address.address == host { return true }
            if let ip, IPAddressBytes(address.address) == ip { return true }
        }
        guard let ip else { return false }
        let ranges = (node.spec?.podCIDRs ?? []) + (node.spec?.podCIDR.map { [$0] } ?? [])
        return ranges.contains { IPAddressBytes.range($0, contains: ip) }
    }

    /// Logs each skipped tracker once while it stays skipped, not at every fetch.
    final class SkipLog: Sendable {
        private let reported = Mutex<Set<Skipped>>([])
        private let logger: Logger

        init(logger: Logger) { self.logger = logger }

        func report(_ skipped: [Skipped]) {
            let current = Set(skipped)
            let new = reported.withLock { reported in
                defer { reported = current }
                return current.subtracting(reported)
            }
            for skip in new.sorted(by: { $0.tracker < $1.tracker }) {
                logger.warning(
                    "a NodeTracker's address is not used as a peer",
                    metadata: ["nodeTracker": "\(skip.tracker)", "address": "\(skip.address)", "reason": "\(skip.reason)"])
            }
        }
    }
}
