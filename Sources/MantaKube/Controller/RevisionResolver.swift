/// A hub revision resolved to an immutable commit and its files.
public struct ResolvedRevision: Sendable, Hashable {
    public var commit: String
    public var files: [Torrent.RepoFile]

    public init(commit: String, files: [Torrent.RepoFile]) {
        self.commit = commit
        self.files = files
    }
}

/// Resolves `repoID@revision` (optionally one file of it) on a model hub. The hub client implements this;
/// the controller only depends on the protocol.
public protocol RevisionResolver: Sendable {
    func resolve(hub: String, repoID: String, revision: String, filename: String?) async throws -> ResolvedRevision
}

/// Failures a resolver reports so the controller can tell a wrong Torrent from a hub outage.
public enum RevisionResolverError: Error, CustomStringConvertible, Sendable {
    /// The repo, revision or file does not exist: the Torrent is wrong and fails until its spec changes.
    case notFound(String)
    /// The hub is unreachable or refused (5xx, 429, network): retried with backoff.
    case unavailable(String)

    public var description: String {
        switch self {
        case .notFound(let detail): "not found on the hub: \(detail)"
        case .unavailable(let detail): "hub unavailable: \(detail)"
        }
    }
}
