import MantaStore

/// A model reference with its files, as found in the store: a complete model (manifest) or a registered one.
struct MountedModel: Sendable {
    struct File: Sendable {
        let path: String
        let sha256: Digest
        let size: UInt64
        let content: Node.Content
    }

    let reference: RepoReference
    /// The manifest's or the registration's digest.
    let digest: Digest
    let commit: String
    let files: [File]

    init(reference: RepoReference, digest: Digest, manifest: Manifest) {
        self.reference = reference
        self.digest = digest
        commit = manifest.source.commit
        files = manifest.files.map { file in
            File(
                path: file.path, sha256: file.sha256, size: file.size,
                content: .modelFile(ModelFile(manifest: digest, file: file, source: manifest.source)))
        }
    }

    init(reference: RepoReference, digest: Digest, registration: Registration) {
        self.reference = reference
        self.digest = digest
        commit = registration.source.commit
        files = registration.files.enumerated().map { index, file in
            File(
                path: file.path, sha256: file.sha256, size: file.size,
                content: .pendingFile(PendingFile(registration: digest, fileIndex: index, file: file))
            )
        }
    }
}

/// A tree under construction, before inodes are assigned.
final class DraftFolder {
    enum Item {
        case folder(DraftFolder)
        case leaf(key: String, content: Node.Content)
    }

    let key: String
    let immutable: Bool
    var children: [String: Item] = [:]

    init(key: String, immutable: Bool) {
        self.key = key
        self.immutable = immutable
    }

    /// The child folder `name`, made with `key` if it is not there yet.
    func folder(_ name: String, key: @autoclosure () -> String, immutable: Bool) -> DraftFolder {
        if case .folder(let existing) = children[name] { return existing }
        let folder = DraftFolder(key: key(), immutable: immutable)
        children[name] = .folder(folder)
        return folder
    }
}

/// Where each model appears in the mount:
/// `models/<org>/<name>` (revision `main`) or `models/<org>/<name>@<revision>`, and the Hugging Face cache layout
/// `hub/models--<org>--<name>/{refs/<revision>, snapshots/<commit>/…}`.
public enum MountLayout {
    static let rootKey = "/"

    /// Where `reference`'s files appear below a mount point: `models/<org>/<name>` or `models/<org>/<name>@<revision>`.
    public static func modelPath(_ reference: RepoReference) -> String {
        "models/\(reference.organization)/\(modelFolderName(reference))"
    }

    static func tree(of models: [MountedModel]) -> DraftFolder {
        let root = DraftFolder(key: rootKey, immutable: false)
        let modelsFolder = root.folder("models", key: "/models", immutable: false)
        let hubFolder = root.folder("hub", key: "/hub", immutable: false)
        for model in models {
            let reference = model.reference
            let organization = modelsFolder.folder(reference.organization, key: "/models/\(reference.organization)", immutable: false)
            let name = modelFolderName(reference)
            let path = "/models/\(reference.organization)/\(name)"
            let modelFolder = DraftFolder(key: "model:\(model.digest.hex):\(path)", immutable: true)
            organization.children[name] = .folder(modelFolder)
            addFiles(of: model, to: modelFolder)

            let repoName = "models--\(reference.organization)--\(reference.name)"
            let repoPath = "/hub/\(repoName)"
            let repo = hubFolder.folder(repoName, key: repoPath, immutable: false)
            let commit = model.commit
            guard isSafeName(commit) else { continue }
            var refs = repo.folder("refs", key: repoPath + "/refs", immutable: false)
            let revisionParts = reference.revision.split(separator: "/").map(String.init)
            var refPath = repoPath + "/refs"
            for part in revisionParts.dropLast() {
                refPath += "/" + part
                refs = refs.folder(part, key: refPath, immutable: false)
            }
            refPath += "/" + (revisionParts.last ?? reference.revision)
            refs.children[revisionParts.last ?? reference.revision] = .leaf(key: "ref:\(commit):\(refPath)", content: .text(Array(commit.utf8)))

            let snapshots = repo.folder("snapshots", key: repoPath + "/snapshots", immutable: false)
            guard snapshots.children[commit] == nil else { continue }
            let snapshot = DraftFolder(key: "snapshot:\(model.digest.hex):\(repoPath)/snapshots/\(commit)", immutable: true)
            snapshots.children[commit] = .folder(snapshot)
            addFiles(of: model, to: snapshot)
        }
        return root
    }

    /// `name` for the default revision, `name@revision` for others (a `/` in the revision becomes `%2F`).
    static func modelFolderName(_ reference: RepoReference) -> String {
        guard reference.revision != RepoReference.defaultRevision else { return reference.name }
        return reference.name + "@" + reference.revision.replacingOccurrences(of: "/", with: "%2F")
    }

    private static func addFiles(of model: MountedModel, to folder: DraftFolder) {
        for file in model.files {
            let parts = file.path.split(separator: "/").map(String.init)
            guard let fileName = parts.last else { continue }
            var current = folder
            var path = folder.key
            for part in parts.dropLast() {
                path += "/" + part
                current = current.folder(part, key: path, immutable: true)
            }
            // Equal content shares one inode, so both views (and revisions) share the page cache, and a registered
            // file keeps its inode (and cached pages) when its model completes.
            let key = "file:\(file.sha256.hex):\(file.size)"
            current.children[fileName] = .leaf(key: key, content: file.content)
        }
    }

    private static func isSafeName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.utf8.contains(UInt8(ascii: "/")) && !name.utf8.contains(0)
    }
}
