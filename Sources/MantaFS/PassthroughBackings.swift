import CFuse
import Logging
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Decides, per open, whether the kernel reads a file itself from its passthrough copy, and keeps the backing
/// ids the kernel was given (`FUSE_DEV_IOC_BACKING_OPEN`) while files opened with them are open.
///
/// The kernel refuses to mix passthrough and cached opens of one inode (ETXTBSY), so an inode keeps the mode of
/// its first open until its last open file is released: a file opened while its copy was still being built stays
/// on the chunk path until every reader closed it.
final class PassthroughBackings: Sendable {
    private struct Opens: KeptAfterClose {
        var count = 0
        /// Nil while the inode is open through the chunk path.
        var backingID: Int32?
        var channel: FuseChannel?
        /// When the last file open on the backing closed, while the backing is kept (`closeUnused`).
        var closedAt: ContinuousClock.Instant?
        var inUse: Bool { count > 0 }
    }

    private let copies: PassthroughCopies
    private let journal: MountJournalRecorder
    private let logger: Logger
    /// How long a backing is kept after the last file open on it closes: setting one up again (the copy's checks
    /// against its chunks, the ioctl) cost 0.8 ms per open, ten times the rest of an open.
    private let keepFor: Duration
    private let opens = Mutex<[UInt64: Opens]>([:])

    init(copies: PassthroughCopies, journal: MountJournalRecorder, keepFor: Duration = .zero, logger: Logger) {
        self.copies = copies
        self.journal = journal
        self.keepFor = keepFor
        self.logger = logger
    }

    /// Takes over the backing ids a previous server of the kernel connection registered, for the files it had open
    /// (`openCounts` by inode); ids of inodes nothing has open any more are closed.
    func adopt(_ backings: [UInt64: Int32], openCounts: [UInt64: Int], channel: FuseChannel) {
        opens.withLock { opens in
            for (inode, id) in backings {
                guard let count = openCounts[inode], count > 0 else {
                    _ = cfuse_backing_close(channel.descriptor, UInt32(bitPattern: id))
                    journal.record(.unbacked(inode: inode))
                    continue
                }
                opens[inode] = Opens(count: count, backingID: id, channel: channel)
            }
            // Files open on the chunk path keep it until their last release.
            for (inode, count) in openCounts where opens[inode] == nil { opens[inode] = Opens(count: count, backingID: nil, channel: channel) }
        }
    }

    /// The backing id to open `file` with, or nil for the chunk path. Every call is matched by one `release`.
    func open(_ file: OpenFile, channel: FuseChannel) -> Int32? {
        opens.withLock { opens in
            var entry = opens[file.inode] ?? Opens()
            defer { opens[file.inode] = entry }
            // A kept backing is used again as it is.
            if entry.count == 0, entry.closedAt == nil {
                entry.backingID = backingID(file, channel: channel)
                entry.channel = channel
                if let id = entry.backingID { journal.record(.backed(inode: file.inode, id: id)) }
            }
            entry.count += 1
            entry.closedAt = nil
            return entry.backingID
        }
    }

    /// Matches one `open` of the file.
    func release(_ file: OpenFile, at now: ContinuousClock.Instant = .now) {
        opens.withLock { opens in
            guard var entry = opens[file.inode], entry.count > 0 else { return }
            entry.count -= 1
            if entry.count == 0, entry.backingID != nil, keepFor > .zero { entry.closedAt = now }
            if entry.count > 0 || entry.closedAt != nil {
                opens[file.inode] = entry
            } else {
                opens[file.inode] = nil
                closeBacking(file.inode, entry)
            }
        }
    }

    /// Closes the backings kept since their last file closed `delay` (`keepFor` unless given) ago or more. The
    /// mount's refresher calls it every `refreshInterval`; a collection asked for now, with no delay, so that the
    /// copies nothing has open may go (a kept backing holds its copy open).
    func closeUnused(at now: ContinuousClock.Instant = .now, closedFor delay: Duration? = nil) {
        opens.withLock { opens in
            for (inode, entry) in opens.removeUnused(for: delay ?? keepFor, at: now) { closeBacking(inode, entry) }
        }
    }

    private func closeBacking(_ inode: UInt64, _ entry: Opens) {
        guard let id = entry.backingID, let channel = entry.channel else { return }
        _ = cfuse_backing_close(channel.descriptor, UInt32(id))
        journal.record(.unbacked(inode: inode))
    }

    private func backingID(_ file: OpenFile, channel: FuseChannel) -> Int32? {
        guard case .modelFile(let model) = file.content, let descriptor = copies.descriptor(for: model) else { return nil }
        // The kernel takes its own reference to the copy.
        defer { close(descriptor) }
        let id = cfuse_backing_open(channel.descriptor, descriptor)
        guard id > 0 else {
            logger.warning(
                "the kernel refused a passthrough backing file: the file is read through the mount",
                metadata: [
                    "file": "\(model.file.path)", "error": "\(String(cString: strerror(-id)))",
                ])
            return nil
        }
        return id
    }
}
