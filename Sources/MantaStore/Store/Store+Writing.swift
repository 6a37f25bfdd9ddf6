import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// A piece of work in this process that stores chunks, or counts on chunks it found stored, before a
    /// manifest (or registration) names them: an import, a pull, a registration, a lazy fetch. While one
    /// is open, no other writer's `discardUnreferenced` deletes anything, since the chunks it would delete
    /// may be ones this writer found present. The session ends when the value goes away.
    public final class WriteSession: Sendable {
        let store: Store

        init(_ store: Store) {
            self.store = store
            store.openWriteSessions.withLock { $0 += 1 }
        }

        deinit { store.openWriteSessions.withLock { $0 -= 1 } }
    }

    /// Opens a write session; hold it until the manifest or registration naming the chunks is recorded.
    public func beginWriting() -> WriteSession {
        WriteSession(self)
    }

    /// Deletes those of `ids` that no manifest or registration names: chunks `session` stored for a file that then
    /// failed its whole-file check. It deletes only when nothing else could count on them: no other write session
    /// in this process, and no other process with the store open (a `manta import` elsewhere may have found
    /// one of them stored). Otherwise they stay, unnamed, for `gc`. Returns how many were deleted; nil when
    /// they were left for `gc`.
    @discardableResult
    public func discardUnreferenced(_ ids: some Sequence<ChunkID>, by session: WriteSession) throws -> Int? {
        let doomed = Set(ids)
        guard !doomed.isEmpty else { return 0 }
        // After the writers' lock is let go: taking the shared lock back can wait for another process's exclusive
        // work, and new writers must not wait that long.
        defer { lockShared() }
        return try openWriteSessions.withLock { count in
            let deleted = count == 1 && tryLockingExclusively() ? try deleteUnreferenced(doomed) : nil
            if deleted == nil {
                let holder = count == 1 ? "another process has the store open" : "another write in this process may count on them"
                logger.info("chunks of a failed file left for gc", metadata: ["chunks": "\(doomed.count)", "reason": "\(holder)"])
            }
            return deleted
        }
    }

    private func deleteUnreferenced(_ ids: Set<ChunkID>) throws -> Int {
        let used = try database.chunks(usedBy: try database.manifestDigests()).union(try registeredChunks())
        let doomed = Array(ids.subtracting(used))
        try deleteChunks(doomed)
        return doomed.count
    }
}
