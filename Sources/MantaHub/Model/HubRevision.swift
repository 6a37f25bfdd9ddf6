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
        revision.utf8.count == 40
            && revision.utf8.allSatisfy { byte in
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte)
            }
    }
}
