import MantaStore

/// What the agent cannot do, and what to do about it.
public enum AgentError: Error, CustomStringConvertible, Equatable {
    case noHub(reference: String)
    case diskUnreadable(path: String, reason: String)
    case revisionMoved(reference: String, expected: String, found: String)
    case peerManifestMismatch(repo: String, commit: String, file: String)
    case noPeerManifest(digest: String)
    case fileHashMismatch(path: String, expected: String, actual: String)
    case unauthenticatedNetwork(address: String)
    case doesNotFit(model: String, neededBytes: UInt64, report: Store.SpaceReport)

    public var description: String {
        switch self {
        case .noHub(let reference):
            "cannot get \(reference): the agent has no hub to resolve it on; start the agent with HF_ENDPOINT (or --endpoint) set"
        case .diskUnreadable(let path, let reason):
            "cannot read the free space of \(path): \(reason)"
        case .revisionMoved(let reference, let expected, let found):
            "\(reference) is now commit \(found), but the Torrent was resolved to \(expected): recreate the Torrent, or name a commit in hub.revision"
        case .peerManifestMismatch(let repo, let commit, let file):
            "a peer's manifest of \(repo)@\(commit) does not describe '\(file)' as the hub does (size or SHA-256); the revision is pulled from the hub instead"
        case .noPeerManifest(let digest):
            "no peer sent the manifest \(digest) it announced; the revision is pulled from the hub instead"
        case .fileHashMismatch(let path, let expected, let actual):
            "'\(path)' assembled from peers' chunks has SHA-256 \(actual), not \(expected): its new chunks were dropped; the revision is pulled from the hub instead"
        case .unauthenticatedNetwork(let address):
            """
            refusing to serve peers on \(address) without a token: anyone who reaches it could read every model in the store. \
            Make one cluster token (`mkdir -p /etc/manta; head -c 32 /dev/urandom | base64 > /etc/manta/token; chmod 600 /etc/manta/token`, the same \
            file on every node) and pass --token-file /etc/manta/token (or set MANTA_TOKEN); or listen on loopback only \
            (--listen 127.0.0.1:7480); or, on a network you trust, pass --insecure-no-auth
            """
        case .doesNotFit(let model, let needed, let report):
            """
            \(model) needs \(needed) bytes, but the store's quota of \(report.quotaBytes ?? 0) bytes leaves \
            \((report.quotaBytes ?? 0) - min(report.quotaBytes ?? 0, report.heldBytes)) bytes even with every evictable model \
            gone: \(report.heldBytes) bytes are held by \(report.describeHolds()). Nothing was written. Release a model \
            (`manta unpin`, delete its Torrent, stop the pod that uses it) or raise --quota, then pull again
            """
        }
    }
}
