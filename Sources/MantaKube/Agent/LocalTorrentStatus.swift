/// Whether a Torrent's model can be read on one node: what `manta wait` asks the node's agent (or the API) for.
public struct LocalTorrentStatus: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Readable on this node: pulled, or registered lazily for `preheat: false` (loads on first read).
        case ready = "Ready"
        /// Placed on this node and on its way.
        case pending = "Pending"
        case replicating = "Replicating"
        /// The last attempt failed; the agent retries with backoff.
        case failed = "Failed"
        /// No replica is placed on this node (yet).
        case notPlaced = "NotPlaced"
        /// The Torrent is being deleted.
        case reclaiming = "Reclaiming"
        /// No such Torrent.
        case notFound = "NotFound"
    }

    public var torrent: String
    public var node: String
    public var state: State
    public var bytesDone: Int64?
    public var bytesTotal: Int64?
    public var manifestDigest: String?
    public var message: String?
    /// The Torrent's phase, when this node has no Replication of it: a Ready Torrent with none here will not
    /// come here unless a pod labelled for it is bound to this node.
    public var torrentPhase: Torrent.Phase?

    public init(
        torrent: String, node: String, state: State, bytesDone: Int64? = nil, bytesTotal: Int64? = nil, manifestDigest: String? = nil,
        message: String? = nil, torrentPhase: Torrent.Phase? = nil
    ) {
        self.torrent = torrent
        self.node = node
        self.state = state
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.manifestDigest = manifestDigest
        self.message = message
        self.torrentPhase = torrentPhase
    }

    /// The status from this node's Replication of the Torrent (a lazy one is Ready once registered), or, when
    /// it has none, from the Torrent itself.
    public init(torrent name: String, node: String, replication: Replication?, torrent: Torrent?) {
        if let replication, !replication.isReclaiming {
            let state: State =
                switch replication.phase {
                case .ready: .ready
                case .pending: .pending
                case .replicating: .replicating
                case .failed: .failed
                case .reclaiming, .reclaimed: .reclaiming
                }
            self.init(
                torrent: name, node: node, state: state, bytesDone: replication.status?.bytesDone, bytesTotal: replication.status?.bytesTotal,
                manifestDigest: replication.status?.manifestDigest, message: replication.status?.message)
            return
        }
        guard let torrent else {
            self.init(torrent: name, node: node, state: .notFound, message: "there is no Torrent named \(name)")
            return
        }
        if torrent.metadata.isDeleting || replication?.isReclaiming == true {
            self.init(torrent: name, node: node, state: .reclaiming, message: "Torrent \(name) is being deleted")
        } else if torrent.status?.phase == .failed {
            let reason = torrent.status?.conditions?.first { $0.status == .true }?.message ?? "the Torrent failed"
            self.init(torrent: name, node: node, state: .failed, message: reason)
        } else {
            let what = torrent.spec.effectivePreheat ? "replica" : "registration (preheat is false: only nodes matching its nodeSelector get one)"
            self.init(
                torrent: name, node: node, state: .notPlaced, message: "Torrent \(name) has no \(what) on node \(node) (yet)",
                torrentPhase: torrent.status?.phase)
        }
    }

    /// Whether waiting longer can change the answer.
    public var isFinal: Bool { state == .ready || state == .failed }
}
