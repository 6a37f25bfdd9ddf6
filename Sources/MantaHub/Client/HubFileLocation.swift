/// One file of a repository at a revision; prefer a commit sha as the revision so the bytes cannot change.
public struct HubFileLocation: Hashable, Sendable, CustomStringConvertible {
    public let repo: HubRepoID
    public let revision: String
    public let path: String

    public init(repo: HubRepoID, revision: String, path: String) throws(HubError) {
        guard HubRevision.isValid(revision) else { throw HubError.invalidRevision(revision) }
        guard HubPath.isValid(path) else { throw HubError.invalidPath(path) }
        self.repo = repo
        self.revision = revision
        self.path = path
    }

    /// The location of `file` at the snapshot's commit.
    public init(snapshot: HubSnapshot, file: HubFile) {
        repo = snapshot.repo
        revision = snapshot.commit
        path = file.path
    }

    public var description: String { "\(repo)@\(revision):\(path)" }

    func resolveURL(endpoint: String) -> String {
        "\(endpoint)/\(repo)/resolve/\(URLEncoding.component(revision))/\(URLEncoding.path(path))"
    }
}
