/// The commands that talk to a network or serve FUSE. They live in a second executable, `manta-net`, which
/// `manta` runs in its place for them: linking NIO, Hummingbird, the HTTP client and libfuse into `manta` cost
/// every local store command (`import`, `ls`, `export`, ...) 4-5 ms of start-up (relocations and the runtime's
/// conformance scans over a binary twice the size).
public enum NetworkCommand: String, CaseIterable, Sendable {
    case pull, add, hub, mount, agent, controller, wait, up, apply, get, describe, delete

    /// The executable, beside `manta`, that runs these commands.
    public static let executableName = "manta-net"

    public var abstract: String {
        switch self {
        case .pull: "Download a model from a Hugging Face hub into the store (parallel, verified, resumable, pinned)."
        case .add:
            "Register a model from a Hugging Face hub's metadata alone: it appears in mounts at once, and its chunks are fetched on first read."
        case .hub: "A Hugging Face compatible hub, for air-gapped clusters and tests."
        case .mount:
            "Mount the store's models read-only at <mountpoint> (models/<org>/<name> and the Hugging Face cache in hub/); runs until SIGINT or SIGTERM."
        case .agent: "Run the node agent: serve the store to peers over HTTP and mount it read-only; SIGTERM stops it gracefully."
        case .controller: "Reconcile Torrents: resolve hub revisions, place Replications on nodes, roll up their progress."
        case .wait: "Wait until a Torrent's model is Ready on this node (for an inference pod's init container)."
        case .up: "Run everything on this machine without Kubernetes: the API for Torrents, the controller and the agent."
        case .apply: "Create or update Torrents in `manta up` from manifests (the original Manta's samples apply unchanged)."
        case .get: "List the Torrents of `manta up` with their phase and progress."
        case .describe: "Show a Torrent of `manta up`: status, conditions, each node's progress and its events."
        case .delete: "Delete Torrents from `manta up`; their reclaimPolicy decides whether the model's files go too."
        }
    }
}
