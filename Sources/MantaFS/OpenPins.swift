import Logging
import MantaStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Pins the manifests of files open through the mount, so GC never evicts chunks a reader may still need.
/// One store pin per manifest (holder `open:<pid of the mount>`), held while any of its files is open.
final class OpenPins: Sendable {
    static let holderPrefix = Store.processHolderPrefix

    let holder: String
    private let store: Store
    private let logger: Logger
    private let counts = Mutex<[Digest: Int]>([:])

    init(store: Store, logger: Logger) {
        self.store = store
        self.logger = logger
        holder = Self.holderPrefix + String(getpid())
    }

    func acquire(_ manifest: Digest) {
        counts.withLock { counts in
            counts[manifest, default: 0] += 1
            guard counts[manifest] == 1 else { return }
            do {
                try store.pin(manifest, holder: holder)
            } catch {
                logger.warning("could not pin the manifest of an open file", metadata: ["manifest": "\(manifest)", "error": "\(error)"])
            }
        }
    }

    func release(_ manifest: Digest) {
        counts.withLock { counts in
            guard let count = counts[manifest] else { return }
            counts[manifest] = count > 1 ? count - 1 : nil
            guard count == 1 else { return }
            markUsed(manifest)
            unpin(manifest)
        }
    }

    /// Records the model as used now, as its last file closes: reads the kernel serves itself (passthrough, page
    /// cache) never reach the mount, and a quota evicts the least recently used models first.
    private func markUsed(_ manifest: Digest) {
        do {
            try store.touch(try store.manifest(manifest).chunkIDs)
        } catch {
            logger.warning("could not record the use of a closed file's model", metadata: ["manifest": "\(manifest)", "error": "\(error)"])
        }
    }

    /// Unpins everything (the mount is gone, so no file is open through it any more).
    func releaseAll() {
        counts.withLock { counts in
            for manifest in counts.keys { unpin(manifest) }
            counts.removeAll()
        }
    }

    /// Removes pins left by mounts whose process no longer exists (killed before they could unpin).
    func removeStalePins() {
        do {
            for (manifest, holder) in try store.pins() where holder.hasPrefix(Self.holderPrefix) {
                guard let pid = Int32(holder.dropFirst(Self.holderPrefix.count)), pid != getpid(),
                    kill(pid, 0) != 0, errno == ESRCH
                else { continue }
                try store.unpin(manifest, holder: holder)
                logger.info("removed the pin of a mount that is gone", metadata: ["manifest": "\(manifest)", "holder": "\(holder)"])
            }
        } catch {
            logger.warning("could not clean up pins of earlier mounts", metadata: ["error": "\(error)"])
        }
    }

    private func unpin(_ manifest: Digest) {
        do {
            try store.unpin(manifest, holder: holder)
        } catch {
            logger.warning("could not unpin the manifest of a closed file", metadata: ["manifest": "\(manifest)", "error": "\(error)"])
        }
    }
}
