import Logging
import MantaStore

/// Resolves repositories and revisions in the served directory, hashing each file once per server run
/// (again only if its size, inode or modification time changes). Concurrent requests for the same file
/// share one hash computation.
actor RepositoryCatalog {
    enum Failure: Error {
        case repoNotFound(HubRepoID)
        case revisionNotFound(HubRepoID, String)
    }

    let root: String
    let lfsThreshold: Int64
    let logger: Logger
    /// By file identity and whether the file is served outside LFS (which adds its git blob id).
    private var hashes: [HashKey: Task<(sha256: Digest, gitBlobID: String?), any Error>] = [:]

    private struct HashKey: Hashable {
        var identity: RepositoryScanner.FileIdentity
        var withBlobID: Bool
    }

    init(root: String, lfsThreshold: Int64, logger: Logger) {
        self.root = root
        self.lfsThreshold = lfsThreshold
        self.logger = logger
    }

    /// File extensions that the Hugging Face hub stores with LFS whatever their size.
    static let lfsExtensions: Set<String> = [
        "safetensors", "gguf", "bin", "pt", "pth", "ckpt", "onnx", "h5", "msgpack", "npy", "npz", "pkl", "model", "tflite", "ot", "parquet",
    ]

    func revision(_ repo: HubRepoID, _ revision: String) async throws -> ServedRevision {
        let folders = try await RepositoryScanner.revisionFolders(root: root, repo: repo)
        guard !folders.isEmpty else { throw Failure.repoNotFound(repo) }
        if let folder = folders[revision] {
            return try await load(repo, name: revision, folder: folder)
        }
        if HubRevision.isCommit(revision) {
            for (name, folder) in folders.sorted(by: { $0.key < $1.key }) {
                let candidate = try await load(repo, name: name, folder: folder)
                if candidate.commit == revision { return candidate }
            }
        }
        throw Failure.revisionNotFound(repo, revision)
    }

    private func load(_ repo: HubRepoID, name: String, folder: String) async throws -> ServedRevision {
        let diskFiles = try await RepositoryScanner.files(in: folder, root: root, logger: logger)
        var files: [ServedFile] = []
        for diskFile in diskFiles {
            let isLFS = isLFS(diskFile)
            let hashes = try await hash(diskFile, withBlobID: !isLFS)
            files.append(
                ServedFile(
                    path: diskFile.path,
                    diskPath: diskFile.diskPath,
                    size: diskFile.identity.size,
                    sha256: hashes.sha256,
                    isLFS: isLFS,
                    contentBlobID: hashes.gitBlobID
                )
            )
        }
        return ServedRevision(
            repo: repo,
            name: name,
            commit: Self.commit(of: files),
            files: files,
            lastModifiedNanoseconds: diskFiles.map(\.identity.modifiedNanoseconds).max() ?? 0
        )
    }

    private func isLFS(_ file: RepositoryScanner.DiskFile) -> Bool {
        guard file.identity.size < lfsThreshold else { return true }
        guard let dot = file.path.lastIndex(of: "."), !file.path[dot...].contains("/") else { return false }
        return Self.lfsExtensions.contains(file.path[file.path.index(after: dot)...].lowercased())
    }

    private func hash(_ file: RepositoryScanner.DiskFile, withBlobID: Bool) async throws -> (sha256: Digest, gitBlobID: String?) {
        let key = HashKey(identity: file.identity, withBlobID: withBlobID)
        if let pending = hashes[key] { return try await pending.value }
        let task = Task { try await HubFileVerifier.hashes(ofFileAt: file.diskPath, gitBlobOfSize: withBlobID ? file.identity.size : nil) }
        hashes[key] = task
        do {
            return try await task.value
        } catch {
            hashes[key] = nil
            throw error
        }
    }

    /// Same names and contents give the same commit, whatever the folder or the server run.
    static func commit(of files: [ServedFile]) -> String {
        var hasher = SHA256Hasher()
        hasher.update(Array("manta-hub-commit-v1\n".utf8))
        for file in files.sorted(by: { $0.path < $1.path }) {
            hasher.update(Array("\(file.path)\0\(file.size)\0\(file.sha256.hex)\n".utf8))
        }
        return String(hasher.finalize().hex.prefix(40))
    }
}
