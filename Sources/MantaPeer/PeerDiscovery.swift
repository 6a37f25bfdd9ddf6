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

/// The peers of several sources at once (a `manta up` instance's `--peers` and the NodeTrackers of the API it
/// shares), each address once.
public struct CombinedPeerDiscovery: PeerDiscovery {
    public let sources: [any PeerDiscovery]

    public init(_ sources: [any PeerDiscovery]) {
        self.sources = sources
    }

    public func peers() async -> [PeerAddress] {
        var seen = Set<PeerAddress>()
        var addresses: [PeerAddress] = []
        for source in sources {
            for address in await source.peers() where seen.insert(address).inserted { addresses.append(address) }
        }
        return addresses
    }
}
