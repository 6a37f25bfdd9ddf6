/// Where an agent learns which other nodes to fetch from: the static `--peers` list, or (in a cluster) the
/// agents' NodeTrackers. Asked at the start of every fetch, so a changing cluster is followed.
public protocol PeerDiscovery: Sendable {
    func peers() async -> [PeerAddress]
}

/// A fixed list of peers, as given with `--peers`.
public struct StaticPeerDiscovery: PeerDiscovery {
    public let addresses: [PeerAddress]

    public init(_ addresses: [PeerAddress]) {
        self.addresses = addresses
    }

    public func peers() async -> [PeerAddress] { addresses }
}
