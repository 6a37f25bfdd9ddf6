import CLinux
import Logging
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// The content-addressed node store:
/// `chunks/<2 hex>/<64 hex>[.zst|.zbg]` (see `ChunkEncoding`), `manifests/<64 hex>.json`, `refs/<org>/<name>/<revision>`, `pins/<64 hex>/<64 hex>` (see `Store+Pins`), `meta.db`, and
/// models registered but not complete: `pending/refs/<org>/<name>/<revision>`, `pending/<64 hex>.{json,journal}`; one file per
/// process using it in `sessions/`, and the boot id of the last recovery in `recovered` (see `recoverIfNeeded`).
public final class Store: Sendable {
    public static let defaultRootForRoot = "/var/lib/manta"

    /// `/var/lib/manta` for root, otherwise `$XDG_DATA_HOME/manta` or `~/.local/share/manta`.
    public static var defaultRoot: String {
        let environment = ProcessInfo.processInfo.environment
        if let root = environment["MANTA_STORE"], !root.isEmpty { return root }
        if geteuid() == 0 { return defaultRootForRoot }
        if let data = environment["XDG_DATA_HOME"], !data.isEmpty { return data + "/manta" }
        return (environment["HOME"] ?? ".") + "/.local/share/manta"
    }

    public let root: String
    public let configuration: StoreConfiguration
    let database: MetadataDatabase
    let logger: Logger
    /// Shared by every process using the store; taken exclusively by recovery and GC.
    let lockDescriptor: Int32
    /// This process's file in `sessions/`, removed when the store is closed (see `recoverIfNeeded`).
    let sessionPath: String
    /// How many `WriteSession`s this process has open, under the lock a discard holds while it deletes.
    let openWriteSessions = Mutex(0)
    /// What `put` copies a chunk from unaligned memory through to write it past the page cache, and what
    /// `readChunk` reads through.
    let pieceBuffers = PieceBuffers()

    var chunksDirectory: String { root + "/chunks" }
    var manifestsDirectory: String { root + "/manifests" }
    var refsDirectory: String { root + "/refs" }
    /// Where files are written before they are renamed into place: on the store's filesystem, and emptied by
    /// recovery, so a crash mid-write leaves nothing behind elsewhere.
    public var temporaryDirectory: String { root + "/tmp" }
    var quarantineDirectory: String { root + "/quarantine" }

    /// Opens (creating if needed) the store at `root`, and recovers from any crash when no other process uses it.
    /// Close it by letting go of it, or with `endSession()`: a process that exits without either makes the next opener rescan.
    public init(root: String, changes: StoreConfigurationChanges = StoreConfigurationChanges(), logger: Logger = Logger(label: "manta.store")) throws
    {
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
        self.logger = logger
        let isNew = !FileSystem.exists(self.root)
        for directory in ["", "/chunks", "/manifests", "/refs", "/tmp", "/quarantine", "/pending", "/pending/refs", "/sessions"] {
            try FileSystem.makeDirectories(self.root + directory)
        }
        guard access(self.root, W_OK) == 0 else {
            throw StoreError.notWritable(path: self.root, reason: String(cString: strerror(errno)))
        }
        lockDescriptor = open(self.root + "/lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard lockDescriptor >= 0 else { throw StoreError.fromErrno(errno, path: self.root + "/lock", operation: "open") }

        let configPath = self.root + "/config.json"
        var configuration = StoreConfiguration()
        // Empty: a new store's settings that a crash kept from the disk (see below); the store holds nothing yet.
        let savedConfiguration = FileSystem.exists(configPath) ? try FileSystem.readAll(configPath) : []
        if !savedConfiguration.isEmpty {
            do {
                configuration = try JSONDecoder().decode(StoreConfiguration.self, from: Data(savedConfiguration))
            } catch {
                throw StoreError.invalidConfiguration("\(configPath) is not valid: \(error); fix or delete it")
            }
        }
        let changed = changes.applied(to: configuration)
        try changed.validate()
        if changed != configuration || savedConfiguration.isEmpty {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            try FileSystem.writeAtomically(
                Array(try encoder.encode(changed)), to: configPath, temporaryDirectory: self.root + "/tmp", durable: !isNew)
        }
        self.configuration = changed
        let databasePath = self.root + "/meta.db"
        // The lock, when taken here, stays exclusive until recovery below is done.
        if !FileSystem.exists(databasePath), flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 { MetadataDatabase.removeLog(of: databasePath) }
        // A new store's settings are made durable beside its database's creation, which every command waits for
        // before it names data (a reference) and before it closes the store.
        let root = self.root
        database = try MetadataDatabase(path: databasePath) {
            guard isNew else { return }
            try FileDescriptor.open(configPath, flags: O_RDONLY).syncData()
            try FileSystem.syncDirectory(root)
        }

        sessionPath = "\(self.root)/sessions/\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        if flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0 {
            defer { flock(lockDescriptor, LOCK_SH) }
            var databaseExisted = database.existed
            if let damage = database.damage {
                try replaceDamagedDatabase(damage)
                databaseExisted = false
            } else if !databaseExisted && !isNew {
                logger.warning(
                    "the metadata database was missing or empty; it is rebuilt from the store's files", metadata: ["path": "\(database.path)"])
            }
            try recoverIfNeeded(databaseExisted: databaseExisted, storeIsNew: isNew)
        } else {
            flock(lockDescriptor, LOCK_SH)
            // Others use the store: the database cannot be replaced under them. The error says to stop them.
            if let damage = database.damage { throw StoreError.databaseDamaged(path: database.path, damage) }
        }
        _ = try FileDescriptor.open(sessionPath, flags: O_WRONLY | O_CREAT)
    }

    deinit {
        database.waitUntilOpened()
        unlink(sessionPath)
        close(lockDescriptor)
    }

    /// Declares that this process has finished writing to the store, for a long-running process whose store
    /// may outlive its work (Swift runs no `deinit` at exit): the next exclusive open then needs no recovery.
    /// Call it after a graceful shutdown has stopped everything that writes.
    public func endSession() {
        unlink(sessionPath)
    }

    /// How long `verify` and `gc` wait for other processes (an import, say) to finish with the store.
    static let exclusiveWait: Duration = .seconds(10)

    /// Runs `body` with no other process using the store. Waits a while for others to finish; a process
    /// that keeps the store open (a mount, an agent) makes this fail with `StoreError.busy`.
    func exclusively<T>(_ body: () throws -> T) throws -> T {
        defer { lockShared() }
        let deadline = ContinuousClock.now + Self.exclusiveWait
        while !tryLockingExclusively() {
            guard ContinuousClock.now < deadline else { throw StoreError.busy(root) }
            usleep(50_000)
        }
        return try body()
    }

    /// Takes the store's lock exclusively if no other process holds it now. It gives up this process's shared
    /// lock either way (while waiting, holding it would keep two processes that both want the store to
    /// themselves from ever getting it), so the caller must `lockShared()` afterwards.
    func tryLockingExclusively() -> Bool {
        flock(lockDescriptor, LOCK_UN)
        return flock(lockDescriptor, LOCK_EX | LOCK_NB) == 0
    }

    /// Back to the shared lock every process using the store holds.
    func lockShared() {
        flock(lockDescriptor, LOCK_SH)
    }
}
