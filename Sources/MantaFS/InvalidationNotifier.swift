import CFuse
import Dispatch
import Synchronization

/// Tells the kernel to forget names that changed (a model removed or moved to another manifest). Runs on its own
/// queue: the kernel may need the folder lock held by the very request that noticed the change.
final class InvalidationNotifier: Sendable {
    private struct Session: @unchecked Sendable {
        let pointer: OpaquePointer
    }

    private let session = Mutex<Session?>(nil)
    private let queue = DispatchQueue(label: "manta.fs.invalidate")

    func attach(_ pointer: OpaquePointer) {
        session.withLock { $0 = Session(pointer: pointer) }
    }

    /// After this returns no notification is in flight and none will be sent.
    func detach() {
        session.withLock { $0 = nil }
        queue.sync {}
    }

    func invalidate(_ invalidations: [InodeTable.Invalidation]) {
        guard !invalidations.isEmpty else { return }
        queue.async { [self] in
            session.withLock { session in
                guard let session else { return }
                for invalidation in invalidations {
                    _ = invalidation.name.withCString { name in
                        fuse_lowlevel_notify_inval_entry(session.pointer, invalidation.parent, name, invalidation.name.utf8.count)
                    }
                }
            }
        }
    }

    /// Has the kernel drop the cached pages of `inode` (bytes that turned out not to be the file's).
    func invalidateContent(of inode: UInt64) {
        queue.async { [self] in
            session.withLock { session in
                guard let session else { return }
                _ = fuse_lowlevel_notify_inval_inode(session.pointer, inode, 0, 0)
            }
        }
    }
}
