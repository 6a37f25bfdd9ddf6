import MantaStore

/// A file of a model as the mount shows it.
struct ModelFile: Sendable {
    let manifest: Digest
    let file: Manifest.File
    /// Where the model came from: a chunk its file lost can be fetched from there again.
    let source: Manifest.Source
}

/// A file of a registered model whose chunks are fetched on first read.
struct PendingFile: Sendable {
    let registration: Digest
    let fileIndex: Int
    let file: Registration.File
}

/// A folder's entries, sorted by name.
struct DirectoryListing: Sendable {
    struct Entry: Sendable {
        let name: String
        let inode: UInt64
        let isDirectory: Bool
    }

    let entries: [Entry]
    private let index: [String: Int]

    init(_ entries: [Entry]) {
        self.entries = entries.sorted { $0.name < $1.name }
        index = Dictionary(uniqueKeysWithValues: self.entries.enumerated().map { ($0.element.name, $0.offset) })
    }

    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    var subdirectoryCount: Int { entries.count { $0.isDirectory } }
}

/// One file or folder of the mount. Immutable: a change in the store makes new nodes.
final class Node: Sendable {
    enum Content: Sendable {
        case directory(DirectoryListing)
        case modelFile(ModelFile)
        case pendingFile(PendingFile)
        /// Small generated files, such as the commit in a Hugging Face `refs/<revision>`.
        case text([UInt8])
    }

    /// Names the node across scans: equal keys get the same inode.
    let key: String
    let content: Content
    /// Whether the kernel may cache it for long (model content) or briefly (the listings of models).
    let immutable: Bool

    init(key: String, content: Content, immutable: Bool) {
        self.key = key
        self.content = content
        self.immutable = immutable
    }

    var size: UInt64 {
        switch content {
        case .directory: 0
        case .modelFile(let model): model.file.size
        case .pendingFile(let pending): pending.file.size
        case .text(let bytes): UInt64(bytes.count)
        }
    }

    var isDirectory: Bool {
        if case .directory = content { return true }
        return false
    }

    var listing: DirectoryListing? {
        if case .directory(let listing) = content { return listing }
        return nil
    }
}
