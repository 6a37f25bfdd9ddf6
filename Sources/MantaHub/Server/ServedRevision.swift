/// A revision folder resolved to its deterministic commit.
struct ServedRevision: Sendable {
    var repo: HubRepoID
    var name: String
    var commit: String
    var files: [ServedFile]
    var lastModifiedNanoseconds: Int64

    func file(at path: String) -> ServedFile? { files.first { $0.path == path } }
}
