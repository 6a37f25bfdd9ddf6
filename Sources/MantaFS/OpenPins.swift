import Logging
import MantaStore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Pins the manifests of files open through the mount, so GC never evicts chunks a reader may still need.
/// One store pin per manifest (holder `open:<pid of the mount>`), held while any of its files is open and for
/// `unpinDelay` after the last closes: a loader opens a model's files one after another (config, tokenizer, each
/// shard), and each pin, unpin and use record is a write to the store's database beside the open or close.
final class OpenPins: Sendable {
    static let holderPrefix = Store.processHolderPrefix

    private struct Held: KeptAfterClose {
        var openFiles = 0
        /// When the last open file closed; nil while one is open.
        var closedAt: ContinuousClock.Instant?
        /// The same, as the store records a use (`Store.accessTime()`).
        var lastUse: Int64 = 0
        var inUse: Bool { openFiles > 0 }
    }

    let holder: String
    private let store: Store
    private let logger: Logger
    private let unpinDelay: Duration
    private let held = Mutex<[Digest: Held]>([:])

    init(store: Store, logger: Logger, unpinDelay: Duration = .seconds(2)) {
        self.store = store
        self.logger = logger
        self.unpinDelay = unpinDelay
        holder = Self.holderPrefix + String(getpid())
    }

    func acquire(_ manifest: Digest) {
        held.withLock { held in
            // Pinned already while a file is open or the delay after the last close runs.
            if held[manifest] == nil {
                do {
                    try store.pin(manifest, holder: holder)
                } catch {
                    logger.warning("could not pin the manifest of an open file", metadata: ["manifest": "\(manifest)", "error": "\(error)"])
                }
            }
            held[manifest, default: Held()].openFiles += 1
            held[manifest]?.closedAt = nil
        }
    }

    func release(_ manifest: Digest, at now: ContinuousClock.Instant = .now) {
        held.withLock { held in
            guard var entry = held[manifest], entry.openFiles > 0 else { return }
            entry.openFiles -= 1
            if entry.openFiles == 0 { (entry.closedAt, entry.lastUse) = (now, Store.accessTime()) }
            held[manifest] = entry
        }
    }

    /// Unpins the models whose files have all been closed for `delay` (`unpinDelay` unless given) by `now`, and
    /// records them as used until their last close. The mount's refresher calls it every `refreshInterval`.
    func unpinClosedModels(at now: ContinuousClock.Instant = .now, closedFor delay: Duration? = nil) {
        held.withLock { held in
            for (manifest, entry) in held.removeUnused(for: delay ?? unpinDelay, at: now) {
                markUsed(manifest, at: entry.lastUse)
                unpin(manifest)
            }
        }
    }

    /// Records the model as used at `time`, its last close: reads the kernel serves itself (passthrough, page cache)
    /// never reach the mount, and a quota evicts the least recently used models first.
    private func markUsed(_ manifest: Digest, at time: Int64) {
        do {
            try store.touch(Dictionary(try store.manifest(manifest).chunkIDs.map { ($0, time) }, uniquingKeysWith: max))
        } catch {
            logger.warning("could not record the use of a closed file's model", metadata: ["manifest": "\(manifest)", "error": "\(error)"])
        }
    }

    /// Unpins everything (the mount is gone, so no file is open through it any more).
    func releaseAll() {
        held.withLock { held in
            for manifest in held.keys { unpin(manifest) }
            held.removeAll()
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
