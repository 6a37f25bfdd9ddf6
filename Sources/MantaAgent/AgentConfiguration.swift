import MantaHub
import MantaPeer

/// What one node's agent runs with; `manta agent` fills it from its options.
public struct AgentConfiguration: Sendable {
    public var storeRoot: String
    /// Where to mount the models read-only; nil runs without a mount.
    public var mountPoint: String?
    public var listenHost: String
    /// 0 lets the OS choose; the agent reports the port it bound.
    public var listenPort: Int
    /// Other agents, for the fetch scheduler.
    public var peers: [PeerAddress]
    /// The shared cluster token peers present; nil serves without authentication.
    public var token: String?
    public var uploadRate: UInt64?
    public var downloadRate: UInt64?
    /// The hub models are resolved on and pulled from when no peer has them; nil: peers only.
    public var hub: HubClientConfiguration?
    /// Where the peers come from; nil: the static `peers`.
    public var discovery: (any PeerDiscovery)?
    public var swarmTiming = SwarmTiming()
    /// The unix socket local processes (`manta pull`, `manta wait`) reach the agent on; nil: `<store>/agent.sock`.
    public var socketPath: String?

    /// The socket an agent owning the store at `storeRoot` listens on unless told otherwise.
    public static func defaultSocketPath(storeRoot: String) -> String { "\(storeRoot)/agent.sock" }

    /// How a node follows a peer that is pulling the revision it wants.
    public struct SwarmTiming: Sendable {
        /// How often the peers are asked for chunks they stored since, when nothing new came.
        public var pollInterval: Duration
        /// With nothing new from the peers for this long, the node pulls the rest from the hub itself.
        public var stallTimeout: Duration

        public init(pollInterval: Duration = .milliseconds(200), stallTimeout: Duration = .seconds(15)) {
            self.pollInterval = pollInterval
            self.stallTimeout = stallTimeout
        }
    }

    public init(
        storeRoot: String, mountPoint: String? = nil, listenHost: String = "0.0.0.0", listenPort: Int = 7480,
        peers: [PeerAddress] = [], token: String? = nil, uploadRate: UInt64? = nil, downloadRate: UInt64? = nil,
        hub: HubClientConfiguration? = nil, discovery: (any PeerDiscovery)? = nil
    ) {
        self.storeRoot = storeRoot
        self.mountPoint = mountPoint
        self.listenHost = listenHost
        self.listenPort = listenPort
        self.peers = peers
        self.token = token
        self.uploadRate = uploadRate
        self.downloadRate = downloadRate
        self.hub = hub
        self.discovery = discovery
    }
}
