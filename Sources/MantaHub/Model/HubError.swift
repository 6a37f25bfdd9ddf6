import MantaStore

/// Everything that can go wrong talking to a hub, each case saying what to do about it.
public enum HubError: Error, Hashable, CustomStringConvertible {
    case invalidRepoID(String)
    case invalidRevision(String)
    case invalidPath(String)
    case invalidEndpoint(String)
    case tokenFileUnreadable(path: String, reason: String)
    /// An environment setting of the hub client is not usable; the reason names it.
    case invalidSetting(String)
    /// 401/403 without a more specific reason: the repository is private or the token is wrong.
    case unauthorized(repo: HubRepoID, status: Int, sentToken: Bool, message: String?)
    /// The repository is gated: access must be requested on the hub's web page first.
    case gated(repo: HubRepoID, endpoint: String, message: String?)
    case repoNotFound(repo: HubRepoID, sentToken: Bool)
    case revisionNotFound(repo: HubRepoID, revision: String)
    case fileNotFound(repo: HubRepoID, revision: String, path: String)
    case rangeNotSatisfiable(repo: HubRepoID, path: String, range: String)
    /// A status that retries could not get past, or one that is not worth retrying.
    case httpStatus(repo: HubRepoID, url: String, status: Int, attempts: Int, message: String?)
    /// The connection failed (refused, reset, timed out) on every attempt.
    case transport(repo: HubRepoID, url: String, attempts: Int, reason: String)
    case invalidResponse(repo: HubRepoID, url: String, reason: String)
    case sizeMismatch(repo: HubRepoID, path: String, expected: Int64, actual: Int64)
    case hashMismatch(repo: HubRepoID, path: String, expected: Digest, actual: Digest)
    /// A file the hub gives no SHA-256 for does not have the hub's git blob id (the tree API's `oid`).
    case blobMismatch(repo: HubRepoID, path: String, expected: String, actual: String)

    public var description: String {
        switch self {
        case .invalidRepoID(let text):
            "'\(text)' is not a repository id: use namespace/name, each part letters, digits, '-', '_' or '.' (e.g. 'org/model')"
        case .invalidRevision(let text):
            "'\(text)' is not a revision: use a branch or tag name (no spaces, '..', '@', ':' or '~') or a 40-hex commit sha"
        case .invalidPath(let text):
            "'\(text)' is not a file path inside a repository: use a relative path with '/' separators and no '.' or '..' parts"
        case .invalidEndpoint(let text):
            "hub endpoint '\(text)' is not an http(s) URL: set HF_ENDPOINT to e.g. https://huggingface.co"
        case .invalidSetting(let reason):
            reason
        case .tokenFileUnreadable(let path, let reason):
            "cannot read the hub token file \(path): \(reason); fix its permissions, or set HF_TOKEN instead"
        case .unauthorized(let repo, let status, let sentToken, let message):
            "access to \(repo) was refused (HTTP \(status)\(message.map { ": \($0)" } ?? "")): "
                + (sentToken
                    ? "the token does not grant access; check HF_TOKEN (or the token file) belongs to an account that can read \(repo)"
                    : "the repository is private or gated; set HF_TOKEN (or write a token to ~/.cache/huggingface/token)")
        case .gated(let repo, let endpoint, let message):
            "\(repo) is gated\(message.map { " (\($0))" } ?? ""): accept its conditions at \(endpoint)/\(repo) with the account whose token is in HF_TOKEN"
        case .repoNotFound(let repo, let sentToken):
            "repository \(repo) was not found on the hub: check the spelling"
                + (sentToken ? ", and that your token can see it if it is private" : "; if it is private, set HF_TOKEN")
        case .revisionNotFound(let repo, let revision):
            "revision '\(revision)' does not exist in \(repo): use an existing branch, tag or commit (default: main)"
        case .fileNotFound(let repo, let revision, let path):
            "file '\(path)' does not exist in \(repo) at revision '\(revision)': check the path (list the files with the hub's tree API)"
        case .rangeNotSatisfiable(let repo, let path, let range):
            "range \(range) lies outside file '\(path)' of \(repo): the file is shorter than the caller expected"
        case .httpStatus(let repo, let url, let status, let attempts, let message):
            "hub answered HTTP \(status) for \(url) (repository \(repo)) after \(attempts) attempt(s)\(message.map { ": \($0)" } ?? ""); "
                + "try again later, or check HF_ENDPOINT"
        case .transport(let repo, let url, let attempts, let reason):
            "could not reach the hub for \(repo) at \(url) after \(attempts) attempt(s): \(reason); check the network and HF_ENDPOINT"
        case .invalidResponse(let repo, let url, let reason):
            "the hub sent an unusable answer for \(repo) at \(url): \(reason); check HF_ENDPOINT points at a Hugging Face compatible hub"
        case .sizeMismatch(let repo, let path, let expected, let actual):
            "file '\(path)' of \(repo) has \(actual) bytes but the hub announced \(expected); the partial file was discarded, download it again"
        case .hashMismatch(let repo, let path, let expected, let actual):
            "file '\(path)' of \(repo) has SHA-256 \(actual.hex) but the hub announced \(expected.hex); the bytes were corrupted in transit and were discarded"
        case .blobMismatch(let repo, let path, let expected, let actual):
            "file '\(path)' of \(repo) has git blob id \(actual) but the hub's tree gives \(expected); the bytes were changed on the way "
                + "(by a peer or in transit) and were discarded"
        }
    }
}
