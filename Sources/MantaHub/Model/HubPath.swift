/// A file path inside a repository: relative, `/`-separated, with no empty, `.` or `..` components.
public enum HubPath {
    public static func isValid(_ path: some StringProtocol) -> Bool {
        guard !path.isEmpty, path.utf8.count <= 4096, !path.utf8.contains(0) else { return false }
        return path.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { component in
            !component.isEmpty && component != "." && component != ".."
        }
    }
}
