/// A model repository on a Hugging Face hub: `namespace/name`.
///
/// Parsing is strict so that an id can be used as two path components without escaping: each part is
/// 1–96 characters of letters, digits, `-`, `_` and `.`, and neither starts with `.`.
public struct HubRepoID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let namespace: String
    public let name: String

    public init(namespace: String, name: String) throws(HubError) {
        guard Self.isValidComponent(namespace), Self.isValidComponent(name) else {
            throw HubError.invalidRepoID("\(namespace)/\(name)")
        }
        self.namespace = namespace
        self.name = name
    }

    /// Parses `namespace/name`.
    public init(_ text: String) throws(HubError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else { throw HubError.invalidRepoID(text) }
        try self.init(namespace: String(parts[0]), name: String(parts[1]))
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (lhs: HubRepoID, rhs: HubRepoID) -> Bool { lhs.description < rhs.description }

    static func isValidComponent(_ text: some StringProtocol) -> Bool {
        guard (1...96).contains(text.utf8.count), text.first != "." else { return false }
        return text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."):
                true
            default: false
            }
        }
    }
}

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

/// Revision names: a branch, a tag or a 40-hex commit sha.
public enum HubRevision {
    /// Branch and tag names as git allows them, minus what would be ambiguous in a URL or a directory name.
    public static func isValid(_ revision: some StringProtocol) -> Bool {
        guard (1...255).contains(revision.utf8.count), revision.first != ".", revision.first != "-" else { return false }
        guard !revision.contains(".."), !revision.hasSuffix("/"), !revision.contains("//") else { return false }
        return revision.unicodeScalars.allSatisfy { scalar in
            scalar.value > 0x20 && scalar.value != 0x7f && !"~^:?*[\\@ ".unicodeScalars.contains(scalar)
        }
    }

    /// Whether the revision is a full commit sha, which never moves.
    public static func isCommit(_ revision: some StringProtocol) -> Bool {
        revision.utf8.count == 40 && revision.utf8.allSatisfy { byte in
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
        }
    }
}

/// A file path inside a repository: relative, `/`-separated, with no empty, `.` or `..` components.
public enum HubPath {
    public static func isValid(_ path: some StringProtocol) -> Bool {
        guard !path.isEmpty, path.utf8.count <= 4096, !path.utf8.contains(0) else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
            !component.isEmpty && component != "." && component != ".."
        }
    }
}
