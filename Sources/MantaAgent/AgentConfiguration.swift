import MantaFS
import MantaHub
import MantaPeer
import MantaServerLimits
import MantaStore
import MantaTransfer

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
    /// The shared cluster token peers present; nil serves without authentication, which only a loopback
    /// `listenHost` or `allowsUnauthenticatedNetwork` permits.
    public var token: String?
    /// Serve peers on a non-loopback address without a token (`--insecure-no-auth`): anyone who reaches the
    /// address reads every model and can make the node fetch. Logged as a warning at every start.
    public var allowsUnauthenticatedNetwork = false
    public var uploadRate: UInt64?
    public var downloadRate: UInt64?
    /// The hub models are resolved on and pulled from when no peer has them; nil: peers only.
    public var hub: HubClientConfiguration?
    /// Where the peers come from; nil: the static `peers`.
    public var discovery: (any PeerDiscovery)?
    public var swarmTiming = SwarmTiming()
    /// How followers pass a revision's chunks on (docs/swarm.md): a line for a few, striped trees for many.
    public var swarmTopology = SwarmTopology.automatic
    /// The unix socket local processes (`manta pull`, `manta wait`) reach the agent on; nil: `<store>/agent.sock`.
    public var socketPath: String?
    /// The group that may use the socket besides the agent's user (`--socket-group`); nil: the agent's own group.
    public var socketGroup: UInt32?
    /// Connection caps, timeouts, header and body caps of the peer server.
    public var peerLimits = ServerLimits.peer
    /// Settings saved into the store when the agent opens it: the quota and its watermarks (`--quota`, …).
    public var storeChanges = StoreConfigurationChanges()
    /// How often the agent looks whether the store has passed its quota's high watermark between pulls.
    public var quotaCheckInterval: Duration = .seconds(10)
    /// Whether the mount outlives the agent (a crash or a restart resumes it); nil: it ends with the agent.
    public var mountHandover: MountHandover?
    /// What the swarm's polls, stall timeouts and answers' lifetimes, and the hub client's retry waits, are measured on.
    public var clock = AnyClock(ContinuousClock())

    /// The socket an agent owning the store at `storeRoot` listens on unless told otherwise.
    public static func defaultSocketPath(storeRoot: String) -> String { "\(storeRoot)/agent.sock" }

    /// Whether `host` names this machine only (`localhost`, 127.0.0.0/8, `::1`), so no other node reaches a server on it.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || IPAddressBytes(host)?.isLoopback == true
    }

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
