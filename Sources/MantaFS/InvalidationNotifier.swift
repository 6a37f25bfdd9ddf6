import CFuse
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Tells the kernel to forget names that changed (a model removed or moved to another manifest): notifications,
/// written to the connection with unique 0. Runs on its own queue: the kernel may need the folder lock held by the
/// very request that noticed the change.
final class InvalidationNotifier: Sendable {
    private let channel = Mutex<FuseChannel?>(nil)
    private let queue = DispatchQueue(label: "manta.fs.invalidate")

    func attach(_ channel: FuseChannel) {
        self.channel.withLock { $0 = channel }
    }

    /// After this returns no notification is in flight and none will be sent.
    func detach() {
        channel.withLock { $0 = nil }
        queue.sync {}
    }

    func invalidate(_ invalidations: [InodeTable.Invalidation]) {
        guard !invalidations.isEmpty else { return }
        queue.async { [self] in
            guard let channel = channel.withLock({ $0 }) else { return }
            for invalidation in invalidations {
                var name = Array(invalidation.name.utf8)
                var output = fuse_notify_inval_entry_out(parent: invalidation.parent, namelen: UInt32(name.count), flags: 0)
                name.append(0)
                withUnsafeMutableBytes(of: &output) { header in
                    name.withUnsafeMutableBytes { name in
                        // ENOENT: the kernel had not cached the name; nothing to forget.
                        notify(
                            channel, FUSE_NOTIFY_INVAL_ENTRY,
                            [iovec(iov_base: header.baseAddress, iov_len: header.count), iovec(iov_base: name.baseAddress, iov_len: name.count)])
                    }
                }
            }
        }
    }

    /// Has the kernel drop the cached pages of `inode` (bytes that turned out not to be the file's).
    func invalidateContent(of inode: UInt64) {
        queue.async { [self] in
            guard let channel = channel.withLock({ $0 }) else { return }
            var output = fuse_notify_inval_inode_out(ino: inode, off: 0, len: 0)
            withUnsafeMutableBytes(of: &output) { bytes in
                notify(channel, FUSE_NOTIFY_INVAL_INODE, [iovec(iov_base: bytes.baseAddress, iov_len: bytes.count)])
            }
        }
    }

    private func notify(_ channel: FuseChannel, _ code: fuse_notify_code, _ payload: [iovec]) {
        channel.send(unique: 0, error: Int32(code.rawValue), payload: payload)
    }
}
