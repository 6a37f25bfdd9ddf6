import Logging
import MantaStore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

extension ModelPuller {
    /// Whether `error` says the store's disk is full (or is a pull's report of it, its clean-up done): resuming would
    /// need the space the pull's own chunks take.
    public static func isDiskFull(_ error: any Error) -> Bool {
        if case .diskFull? = error as? PullError { return true }
        return switch error as? StoreError {
        case .diskFull: true
        case .io(_, _, let code): code == ENOSPC || code == EDQUOT
        default: false
        }
    }

    /// After the disk filled up during a pull of `snapshot`, from the hub or from peers: removes the chunks that no
    /// model names and that the pull stored (`written`, and what the resume journals of this commit's files list, a
    /// pull it resumed or peers it followed included), and those journals, so the disk is left as full as the pull
    /// found it. The error says what was removed, and what is left for `gc` when another process using the store
    /// keeps the chunks from being deleted now.
    public static func discardAfterDiskFull(
        _ cause: any Error, written: Set<ChunkID>, of snapshot: HubSnapshot, in store: Store, writing: Store.WriteSession,
        threadPool: NIOThreadPool, logger: Logger
    ) async -> PullError {
        logger.error("the store's disk is full; removing what the pull stored", metadata: ["error": "\(cause)"])
        let outcome = try? await threadPool.runIfActive { () -> (removed: Int, leftForGC: Int) in
            var stored = written
            var journals: [ResumeJournal] = []
            for file in snapshot.files {
                guard let journal = try? ResumeJournal(store: store, repo: snapshot.repo, commit: snapshot.commit, file: file.path) else { continue }
                stored.formUnion(journal.entries().filter(\.new).map(\.id))
                journals.append(journal)
            }
            for journal in journals { journal.remove() }
            guard let removed = try? store.discardUnreferenced(stored, by: writing) else { return (0, stored.count) }
            return (removed, 0)
        }
        return .diskFull(repo: "\(snapshot.repo)", store: store.root, removed: outcome?.removed ?? 0, leftForGC: outcome.map { $0.leftForGC })
    }
}
