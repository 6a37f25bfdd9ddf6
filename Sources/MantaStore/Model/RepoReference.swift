/// `org/name@revision`: a model repository at a branch, tag or commit.
public struct RepoReference: Hashable, Sendable, Codable, CustomStringConvertible {
    public static let defaultRevision = "main"

    public let organization: String
    public let name: String
    public let revision: String

    public var repo: String { "\(organization)/\(name)" }
    public var description: String { "\(repo)@\(revision)" }

    public init(organization: String, name: String, revision: String = RepoReference.defaultRevision) throws(RepoReferenceError) {
        for part in [organization, name] {
            try Self.validateComponent(part, in: "\(organization)/\(name)")
        }
        try Self.validateRevision(revision)
        self.organization = organization
        self.name = name
        self.revision = revision
    }

    /// Parses `org/name` or `org/name@revision`; `defaultRevision` applies when no `@` is given.
    public init(parsing text: String, defaultRevision: String = RepoReference.defaultRevision) throws(RepoReferenceError) {
        let (repo, revision): (Substring, String) =
            if let at = text.firstIndex(of: "@") {
                (text[..<at], String(text[text.index(after: at)...]))
            } else {
                (text[...], defaultRevision)
            }
        let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw .notOrganizationSlashName(text) }
        try self.init(organization: String(parts[0]), name: String(parts[1]), revision: revision)
    }

    /// Repo and revision with the revision swapped.
    public func at(revision: String) throws(RepoReferenceError) -> RepoReference {
        try RepoReference(organization: organization, name: name, revision: revision)
    }

    static let allowedCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.".utf8)

    private static func validateComponent(_ part: String, in repo: String) throws(RepoReferenceError) {
        guard !part.isEmpty else { throw .emptyComponent(repo) }
        guard part != "." && part != ".." && !part.hasPrefix(".") else { throw .dotComponent(repo) }
        guard part.utf8.count <= 96, part.utf8.allSatisfy(allowedCharacters.contains) else { throw .invalidCharacters(repo) }
    }

    private static func validateRevision(_ revision: String) throws(RepoReferenceError) {
        let components = revision.split(separator: "/", omittingEmptySubsequences: false)
        guard !revision.isEmpty, revision.utf8.count <= 128,
            components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.hasPrefix(".") }),
            revision.utf8.allSatisfy({ allowedCharacters.contains($0) || $0 == UInt8(ascii: "/") })
        else { throw .invalidRevision(revision) }
    }
}

public enum RepoReferenceError: Error, Equatable, CustomStringConvertible {
    case notOrganizationSlashName(String)
    case emptyComponent(String)
    case dotComponent(String)
    case invalidCharacters(String)
    case invalidRevision(String)

    public var description: String {
        switch self {
        case .notOrganizationSlashName(let text):
            "'\(text)' is not a repository name: write it as org/name or org/name@revision"
        case .emptyComponent(let repo):
            "repository '\(repo)' has an empty part: write it as org/name"
        case .dotComponent(let repo):
            "repository '\(repo)' has a part starting with '.': '.' and '..' are not allowed in repository names"
        case .invalidCharacters(let repo):
            "repository '\(repo)' may only use letters, digits, '-', '_' and '.', at most 96 per part"
        case .invalidRevision(let revision):
            "revision '\(revision)' is not a branch, tag or commit name: use letters, digits, '-', '_', '.' and non-empty '/'-separated parts"
        }
    }
}
