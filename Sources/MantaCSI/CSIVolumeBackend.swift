/// What the CSI node plugin needs from the node's agent: get a model onto the node and say where its folder is.
///
/// The plugin stays below the agent (it never imports it); the agent implements this.
public protocol CSIVolumeBackend: Sendable {
    /// Makes sure the volume's model is on this node, as its mode asks, and returns where it can be read, or how
    /// far the pull has come. Called again by kubelet's retries until it answers `.ready`, so it must not start a
    /// second pull of what is already being pulled. Once ready, the model is held for `publication` (the target
    /// folder: a PersistentVolume's id is shared by every pod of the node that uses it) until `release`.
    func prepare(_ volume: CSIVolumeSource, for publication: String) async throws(CSIBackendError) -> CSIVolumeState

    /// Lets go of what `prepare` held for `publication` (nothing, when it holds nothing).
    func release(_ publication: String) async throws(CSIBackendError)
}

/// What a volume names: a model revision directly, or a Torrent the cluster agent knows.
public enum CSIVolumeSource: Sendable, Hashable, CustomStringConvertible {
    case model(CSIModelVolume)
    case torrent(name: String)

    public var description: String {
        switch self {
        case .model(let model): "model \(model.repository)@\(model.revision) (\(model.mode.rawValue))"
        case .torrent(let name): "Torrent \(name)"
        }
    }
}

/// A model revision and how the node should get it.
public struct CSIModelVolume: Sendable, Hashable {
    /// `org/name` on the hub.
    public var repository: String
    public var revision: String
    public var mode: CSIVolumeMode

    public init(repository: String, revision: String = "main", mode: CSIVolumeMode = .wait) {
        self.repository = repository
        self.revision = revision
        self.mode = mode
    }
}

/// How a volume's model gets onto the node.
public enum CSIVolumeMode: String, Sendable, Hashable, CaseIterable {
    /// The whole model is pulled (peers first) before the pod starts.
    case wait
    /// The model is registered from its metadata; the pod starts at once and chunks are fetched on first read.
    case lazy
}

/// Where the backend stands with a volume's model.
public enum CSIVolumeState: Sendable, Hashable {
    /// The model's folder, readable now.
    case ready(folder: String)
    /// Still arriving; the text says how far (it reaches the pod's events through kubelet).
    case pulling(progress: String)
}

/// Why the backend cannot give a volume its model; each maps to one CSI status code.
public enum CSIBackendError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The hub has no such model or revision, or the cluster no such Torrent (NOT_FOUND).
    case notFound(String)
    /// The request cannot work on this node as configured, e.g. a Torrent without a cluster (FAILED_PRECONDITION).
    case failedPrecondition(String)
    /// A failure that a retry may get past: the hub or peers unreachable, a full disk (UNAVAILABLE).
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let message), .failedPrecondition(let message), .unavailable(let message): message
        }
    }
}
