import MantaStore

/// What can stop a pull beyond the hub's own errors (`HubError`), each case saying what to do.
public enum PullError: Error, Hashable, CustomStringConvertible {
    /// A manifest whose source is not a Hugging Face hub was handed to the hub fetcher.
    case unsupportedSource(kind: String, repo: String)
    /// The hub sent bytes for a known chunk that do not hash to its id.
    case chunkMismatch(repo: String, path: String, offset: UInt64, expected: ChunkID, actual: ChunkID)
    /// The header bytes the chunk layout was computed from are not the file's (the file itself checked out).
    case headerMismatch(repo: String, path: String)
    /// Some chunks could not be fetched; `reason` is the first failure.
    case chunksUnavailable(repo: String, missing: Int, reason: String)
    /// The revision is valid on the hub but cannot name a reference in the store.
    case revisionNotStorable(revision: String, reason: String)
    /// More than one file failed; each entry says why.
    case filesFailed(repo: String, reasons: [String])
    /// The store's disk filled up. The pull removed the `removed` chunks it had stored and its resume journals;
    /// `leftForGC` more, named by no model, could not be removed while another process used the store (nil: how
    /// many is not known).
    case diskFull(repo: String, store: String, removed: Int, leftForGC: Int?)

    public var description: String {
        switch self {
        case .unsupportedSource(let kind, let repo):
            "\(repo) comes from a '\(kind)' source, not a Hugging Face hub: its chunks cannot be fetched from the hub; import it again"
        case .chunkMismatch(let repo, let path, let offset, let expected, let actual):
            "the hub sent bytes for the chunk at offset \(offset) of '\(path)' in \(repo) that hash to \(actual), not \(expected): "
                + "the file changed on the hub or was corrupted in transit; nothing was kept, pull again"
        case .headerMismatch(let repo, let path):
            "the header of '\(path)' in \(repo) was corrupted in transit when it was read to plan the chunks; nothing was kept, pull again"
        case .chunksUnavailable(let repo, let missing, let reason):
            "\(missing) chunk(s) of \(repo) could not be fetched from the hub (\(reason)); what arrived was kept, run the pull again"
        case .revisionNotStorable(let revision, let reason):
            "revision '\(revision)' cannot be recorded in the store (\(reason)); pull it by its commit sha instead"
        case .filesFailed(let repo, let reasons):
            "\(reasons.count) files of \(repo) failed: " + reasons.joined(separator: "; ")
        case .diskFull(let repo, let store, let removed, let leftForGC):
            "no space left on the device holding the store \(store) while pulling \(repo): the pull stopped and removed the \(removed) chunk(s) it had stored and its resume journals"
                + (leftForGC == 0
                    ? ", so nothing of it was kept"
                    : "; \(leftForGC.map { "\($0) more chunk(s)" } ?? "what else it stored") is named by no model and stays until `manta gc` removes it, "
                        + "once no other manta process (a mount or an agent) uses the store")
                + ". Free space or lower the store's quota (`manta gc --quota`), then pull again"
        }
    }
}
