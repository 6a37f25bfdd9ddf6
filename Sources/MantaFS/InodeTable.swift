/// Inode numbers of the mount and the kernel's lookup counts. Numbers are never reused within a mount; a node
/// that left the tree stays readable while the kernel still knows it (open files, cached names).
struct InodeTable {
    static let rootInode: UInt64 = 1

    /// A name the kernel must forget because it now means something else, or nothing.
    struct Invalidation: Sendable, Hashable {
        let parent: UInt64
        let name: String
    }

    private struct Entry {
        var node: Node
        var lookups: UInt64
        var current: Bool
    }

    private var inodeByKey: [String: UInt64] = [MountLayout.rootKey: rootInode]
    private var entries: [UInt64: Entry] = [:]
    private var nextInode: UInt64 = rootInode + 1

    private(set) var fileCount = 0
    private(set) var totalBytes: UInt64 = 0
    /// Numbers given since the last `takeAssignments()`, for the mount's journal.
    private var assigned: [MountJournal.Change] = []

    /// `known`: the numbers a previous server of the same kernel connection gave (`MountHandover`); the same
    /// names keep them, and new names get numbers it never gave.
    init(known: [String: UInt64] = [:]) {
        inodeByKey.merge(known) { current, _ in current }
        nextInode = max(nextInode, (known.values.max() ?? 0) + 1)
        install(MountLayout.tree(of: []))
    }

    mutating func takeAssignments() -> [MountJournal.Change] {
        defer { assigned.removeAll() }
        return assigned
    }

    func node(_ inode: UInt64) -> Node? { entries[inode]?.node }

    /// Counts one more kernel reference from a lookup reply.
    mutating func remember(_ inode: UInt64) {
        guard inode != Self.rootInode else { return }
        entries[inode]?.lookups += 1
    }

    /// The kernel dropped `count` references.
    mutating func forget(_ inode: UInt64, count: UInt64) {
        guard inode != Self.rootInode, var entry = entries[inode] else { return }
        entry.lookups -= min(count, entry.lookups)
        if entry.lookups == 0 && !entry.current {
            drop(inode, key: entry.node.key)
        } else {
            entries[inode] = entry
        }
    }

    /// Makes `root` the current tree; returns the names the kernel has to forget.
    @discardableResult
    mutating func install(_ root: DraftFolder) -> [Invalidation] {
        var fresh: [UInt64: Node] = [:]
        let rootInode = materialize(root, into: &fresh)
        precondition(rootInode == Self.rootInode, "the root key always maps to the root inode")

        var invalidations: [Invalidation] = []
        for (inode, entry) in entries where entry.current {
            guard let old = entry.node.listing else { continue }
            let new = fresh[inode]?.listing
            for child in old.entries where new?.entry(named: child.name)?.inode != child.inode {
                invalidations.append(Invalidation(parent: inode, name: child.name))
            }
        }
        for (inode, entry) in entries where fresh[inode] == nil {
            if entry.lookups == 0 {
                drop(inode, key: entry.node.key)
            } else {
                entries[inode]?.current = false
            }
        }
        fileCount = 0
        totalBytes = 0
        for (inode, node) in fresh {
            entries[inode] = Entry(node: node, lookups: entries[inode]?.lookups ?? 0, current: true)
            switch node.content {
            case .modelFile, .pendingFile:
                fileCount += 1
                totalBytes += node.size
            case .directory, .text:
                break
            }
        }
        return invalidations
    }

    private mutating func drop(_ inode: UInt64, key: String) {
        entries[inode] = nil
        if inodeByKey[key] == inode { inodeByKey[key] = nil }
    }

    private mutating func inode(for key: String) -> UInt64 {
        if let existing = inodeByKey[key] { return existing }
        let inode = nextInode
        nextInode += 1
        inodeByKey[key] = inode
        assigned.append(.assigned(key: key, inode: inode))
        return inode
    }

    private mutating func materialize(_ folder: DraftFolder, into nodes: inout [UInt64: Node]) -> UInt64 {
        var listing: [DirectoryListing.Entry] = []
        for (name, item) in folder.children {
            switch item {
            case .folder(let child):
                listing.append(.init(name: name, inode: materialize(child, into: &nodes), isDirectory: true))
            case .leaf(let key, let content):
                let inode = inode(for: key)
                if nodes[inode] == nil { nodes[inode] = Node(key: key, content: content, immutable: true) }
                listing.append(.init(name: name, inode: inode, isDirectory: false))
            }
        }
        let inode = inode(for: folder.key)
        nodes[inode] = Node(key: folder.key, content: .directory(DirectoryListing(listing)), immutable: folder.immutable)
        return inode
    }
}
