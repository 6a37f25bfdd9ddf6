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
    private var hashes: [RepositoryScanner.FileIdentity: Task<Digest, any Error>] = [:]

    init(root: String, lfsThreshold: Int64) {
        self.root = root
        self.lfsThreshold = lfsThreshold
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
        let diskFiles = try await RepositoryScanner.files(in: folder)
        var files: [ServedFile] = []
        for diskFile in diskFiles {
            let digest = try await hash(diskFile)
            files.append(
                ServedFile(
                    path: diskFile.path,
                    diskPath: diskFile.diskPath,
                    size: diskFile.identity.size,
                    sha256: digest,
                    isLFS: isLFS(diskFile)
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

    private func hash(_ file: RepositoryScanner.DiskFile) async throws -> Digest {
        if let pending = hashes[file.identity] { return try await pending.value }
        let task = Task { try await HubFileVerifier.sha256(ofFileAt: file.diskPath) }
        hashes[file.identity] = task
        do {
            return try await task.value
        } catch {
            hashes[file.identity] = nil
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
