import Synchronization

/// What the next server of a mount needs to go on serving its kernel connection: what INIT agreed on, the inode
/// number of every name the kernel was told of, and the open files and folders by handle, with the backing ids
/// of passed-through files. The holder keeps a copy, updated change by change (`MountHandover`).
struct MountJournal: Codable, Sendable, Equatable {
    struct OpenFile: Codable, Sendable, Equatable {
        var inode: UInt64
        var flags: Int32
    }

    enum Change: Codable, Sendable, Equatable {
        case negotiated(FuseNegotiation)
        case assigned(key: String, inode: UInt64)
        case opened(handle: UInt64, file: OpenFile)
        case released(handle: UInt64)
        case openedDirectory(handle: UInt64, inode: UInt64)
        case releasedDirectory(handle: UInt64)
        case backed(inode: UInt64, id: Int32)
        case unbacked(inode: UInt64)
    }

    var negotiation: FuseNegotiation?
    var inodes: [String: UInt64] = [:]
    var files: [UInt64: OpenFile] = [:]
    var directories: [UInt64: UInt64] = [:]
    var backings: [UInt64: Int32] = [:]

    mutating func apply(_ change: Change) {
        switch change {
        case .negotiated(let negotiation): self.negotiation = negotiation
        case .assigned(let key, let inode): inodes[key] = inode
        case .opened(let handle, let file): files[handle] = file
        case .released(let handle): files[handle] = nil
        case .openedDirectory(let handle, let inode): directories[handle] = inode
        case .releasedDirectory(let handle): directories[handle] = nil
        case .backed(let inode, let id): backings[inode] = id
        case .unbacked(let inode): backings[inode] = nil
        }
    }
}

/// The mount's own journal: applied locally always (it is small), and forwarded to the holder once one holds the
/// connection, in the order the changes happened.
final class MountJournalRecorder: Sendable {
    private struct State {
        var journal = MountJournal()
        var holder: MountHandover.Connection?
    }

    private let state = Mutex(State())

    func record(_ changes: some Sequence<MountJournal.Change>) {
        state.withLock { state in
            for change in changes {
                state.journal.apply(change)
                state.holder?.send(change)
            }
        }
    }

    func record(_ change: MountJournal.Change) {
        record(CollectionOfOne(change))
    }

    var journal: MountJournal { state.withLock { $0.journal } }

    /// Replaces the journal with the one a previous server left.
    func adopt(_ journal: MountJournal) {
        state.withLock { $0.journal = journal }
    }

    /// Gives the holder the whole journal (`handOver`), then every change after it.
    func attach(_ holder: MountHandover.Connection, handOver: (MountJournal) throws -> Void) rethrows {
        try state.withLock { state in
            try handOver(state.journal)
            state.holder = holder
        }
    }

    func detach() {
        state.withLock { $0.holder = nil }
    }
}
