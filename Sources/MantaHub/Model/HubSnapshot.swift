/// A repository resolved at a revision: the immutable commit and its files.
public struct HubSnapshot: Hashable, Sendable {
    public let repo: HubRepoID
    /// The revision that was asked for (branch, tag or commit).
    public let revision: String
    /// The 40-hex commit the revision pointed to; fetch files by this so that they cannot change underneath.
    public let commit: String
    /// Every file of the commit, nested folders flattened into paths, sorted by path.
    public let files: [HubFile]

    public init(repo: HubRepoID, revision: String, commit: String, files: [HubFile]) {
        self.repo = repo
        self.revision = revision
        self.commit = commit
        self.files = files.sorted { $0.path < $1.path }
    }

    public func file(at path: String) -> HubFile? { files.first { $0.path == path } }

    /// The files' sizes summed; a listing from `HubClient` is within `HubAnswerLimits.maximumTotalSize`, and any other
    /// saturates rather than overflow.
    public var totalSize: Int64 {
        files.reduce(Int64(0)) { total, file in
            let (sum, overflow) = total.addingReportingOverflow(max(0, file.size))
            return overflow ? .max : sum
        }
    }
}
