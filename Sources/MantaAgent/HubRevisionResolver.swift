import MantaHub
import MantaKube

/// Resolves a Torrent's hub revision with the Hugging Face client: the commit and every file with its
/// size and LFS SHA-256.
public struct HubRevisionResolver: RevisionResolver {
    public let client: HubClient

    public init(client: HubClient) {
        self.client = client
    }

    public func resolve(hub: String, repoID: String, revision: String, filename: String?) async throws -> ResolvedRevision {
        do {
            let snapshot = try await client.snapshot(of: try HubModelReference("\(repoID)@\(revision)"), filename: filename)
            return ResolvedRevision(
                commit: snapshot.commit,
                files: snapshot.files.map { Torrent.RepoFile(path: $0.path, size: $0.size, sha256: $0.lfs?.sha256.hex) }
            )
        } catch let error as HubError {
            switch error {
            case .invalidRepoID, .invalidRevision, .invalidPath, .repoNotFound, .revisionNotFound, .fileNotFound, .unauthorized, .gated:
                throw RevisionResolverError.notFound(error.description)
            default:
                throw RevisionResolverError.unavailable(error.description)
            }
        }
    }
}
