/// What a user names on the command line: `namespace/name[@revision]`.
public struct HubModelReference: Hashable, Sendable, CustomStringConvertible {
    public static let defaultRevision = "main"

    public let repo: HubRepoID
    public let revision: String

    public init(repo: HubRepoID, revision: String = HubModelReference.defaultRevision) throws(HubError) {
        guard HubRevision.isValid(revision) else { throw HubError.invalidRevision(revision) }
        self.repo = repo
        self.revision = revision
    }

    /// Parses `namespace/name` or `namespace/name@revision`.
    public init(_ text: String) throws(HubError) {
        guard let at = text.firstIndex(of: "@") else {
            try self.init(repo: HubRepoID(text))
            return
        }
        try self.init(repo: HubRepoID(String(text[..<at])), revision: String(text[text.index(after: at)...]))
    }

    public var description: String { "\(repo)@\(revision)" }
}
