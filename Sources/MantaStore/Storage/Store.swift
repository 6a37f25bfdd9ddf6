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

    // MARK: Chunks

    public struct ChunkLocation: Sendable, Hashable {
        public var path: String
        public var encoding: ChunkEncoding

        public init(path: String, encoding: ChunkEncoding) {
            self.path = path
            self.encoding = encoding
        }

        /// The chunk's bytes from this file, checked against `expectedSize` when the caller knows it; not hashed.
        public func decoded(expectedSize: Int? = nil) throws -> [UInt8] {
            try encoding.decode(try FileSystem.readAll(path), expectedSize: expectedSize)
        }
    }

    func chunkPath(_ id: ChunkID, encoding: ChunkEncoding) -> String {
        "\(chunkFolder(id))/\(id.hex)\(encoding.suffix)"
    }

    func chunkFolder(_ id: ChunkID) -> String {
        "\(chunksDirectory)/\(id.hex.prefix(2))"
    }

    /// A chunk being written lies in its own folder under a name that starts with this, which no chunk's does:
    /// naming it is then a rename within one folder. Recovery removes those left by a crash.
    static let temporaryChunkPrefix = "."

    /// Where the chunk's file is, if the store has it.
    public func location(of id: ChunkID) -> ChunkLocation? {
        for encoding in ChunkEncoding.allCases {
            let path = chunkPath(id, encoding: encoding)
            if FileSystem.exists(path) { return ChunkLocation(path: path, encoding: encoding) }
        }
        return nil
    }

    public func contains(_ id: ChunkID) -> Bool { location(of: id) != nil }

    /// The seal recorded when the chunk's file was last checked against its id; nil if it never was (a store
    /// from before seals, a chunk found by recovery) or the database cannot be read.
    public func seal(of id: ChunkID) -> ChunkSeal? {
        try? database.seal(of: id)
    }

    /// Records that the chunk files, as they are now, hold bytes that hash to their ids.
    public func recordSeals(_ seals: [(id: ChunkID, seal: ChunkSeal)]) throws {
        guard !seals.isEmpty else { return }
        try database.recordSeals(seals)
    }

    /// Stores `bytes` as chunk `id` unless it is already there, durably (its own `fdatasync`). The caller
    /// has hashed `bytes` (ids are checked on entry: pass `verify: true` for bytes from elsewhere). Returns
    /// the bytes written to disk, 0 when the chunk was already present. The chunk's folder still needs
    /// `syncChunkFolders` before a manifest may name it. Many chunks at once go faster through a
    /// `ChunkWriteBatch`.
    @discardableResult
    public func put(_ id: ChunkID, bytes: UnsafeRawBufferPointer, verify: Bool = false) throws -> UInt64 {
        if verify {
            let actual = SHA256Hasher.hash(bytes)
            guard actual == id else { throw StoreError.hashMismatch(expected: id, actual: actual) }
        }
        let batch = ChunkWriteBatch(store: self, durability: .eachFile)
        let stored = try batch.add(id, bytes: bytes)
        try batch.commit()
        return stored
    }

    /// Makes everything written to the store's file system durable in one journal commit (`syncfs`), where an
    /// `fsync` per file or folder would commit once each.
    func syncFileSystem() throws {
        let directory = try FileDescriptor.open(root, flags: O_RDONLY | O_DIRECTORY)
        guard clinux_syncfs(directory.raw) == 0 else { throw StoreError.fromErrno(errno, path: root, operation: "sync") }
    }

    /// Makes the renames of newly stored chunks durable.
    public func syncChunkFolders(for ids: some Sequence<ChunkID>) throws {
        for prefix in Set(ids.map { $0.hex.prefix(2) }) {
            try FileSystem.syncDirectory("\(chunksDirectory)/\(prefix)")
        }
    }

    /// The chunk's bytes, checked against its id unless `verify` is false (for a caller that hashes them anyway).
    public func read(_ id: ChunkID, file: String? = nil, verify: Bool = true) throws -> [UInt8] {
        guard let location = location(of: id) else { throw StoreError.missingChunk(file: file ?? "?", chunk: id) }
        let bytes = try Self.readVerified(id, at: location, verify: verify)
        guard let bytes else { throw StoreError.corruptChunk(file: file, chunk: id) }
        return bytes
    }

    /// Nil when the file does not decode or its bytes do not hash to `id`; throws only when it cannot be read.
    static func readVerified(_ id: ChunkID, at location: ChunkLocation, verify: Bool = true) throws -> [UInt8]? {
        let bytes: [UInt8]
        do {
            bytes = try location.decoded()
        } catch is ChunkDecodingError {
            return nil
        }
        return !verify || SHA256Hasher.hash(bytes) == id ? bytes : nil
    }

    /// Deletes these chunks' files and forgets them.
    func deleteChunks(_ ids: [ChunkID]) throws {
        for id in ids {
            if let location = location(of: id) { unlink(location.path) }
        }
        try database.forgetChunks(ids)
    }

    /// Moves a chunk file whose bytes were found not to hash to `id` into `quarantine/` and forgets it, so that no
    /// reader finds it again and a pull fetches it anew. Safe beside other processes: a chunk file is never
    /// rewritten, so one that fails its hash stays wrong until it is replaced.
    public func quarantineChunk(_ id: ChunkID) throws {
        guard let location = location(of: id) else { return }
        try moveToQuarantine(location, of: id)
        try database.forgetChunks([id])
    }

    /// Moves a chunk's file into `quarantine/`, where no reader finds it; the database still names the chunk.
    func moveToQuarantine(_ location: ChunkLocation, of id: ChunkID) throws {
        let name = location.path.split(separator: "/").last.map(String.init) ?? id.hex
        guard rename(location.path, "\(quarantineDirectory)/\(name)") == 0 else {
            throw StoreError.fromErrno(errno, path: location.path, operation: "quarantine")
        }
    }

    /// Moves a manifest that does not hash to its name, does not parse, or whose files changed into `quarantine/`.
    func quarantineManifest(_ digest: Digest) throws {
        rename(manifestPath(digest), "\(quarantineDirectory)/\(digest.hex).json")
        try database.forgetManifest(digest)
    }

    /// Records that these chunks were read now, for least-recently-used eviction.
    public func touch(_ ids: some Sequence<ChunkID>) throws {
        try database.touch(ids)
    }

    /// Records when each of these chunks was read (times from `accessTime()`); an older time never replaces a
    /// newer one.
    public func touch(_ accesses: [ChunkID: Int64]) throws {
        try database.touch(accesses.lazy.map { (id: $0.key, time: $0.value) })
    }

    /// The time `touch` records for a read now.
    public static func accessTime() -> Int64 { MetadataDatabase.now() }

    // MARK: Manifests

    func manifestPath(_ digest: Digest) -> String { "\(manifestsDirectory)/\(digest.hex).json" }

    /// Writes the manifest (once; it is content-addressed) and indexes its chunks. Returns its digest.
    @discardableResult
    public func put(_ manifest: Manifest) throws -> Digest {
        try put(manifest, durable: true).digest
    }

    /// Stores `manifest` unless it is there already, and says whether it was new. Without `durable`, the caller
    /// makes it durable (`syncFileSystem`) before a reference may name it, with whatever else it wrote.
    func put(_ manifest: Manifest, durable: Bool) throws -> (digest: Digest, new: Bool) {
        let (digest, new) = try writeOnce(manifest.canonicalJSON(), named: manifestPath, durable: durable)
        try database.recordManifest(digest, manifest)
        return (digest, new)
    }

    public func manifest(_ digest: Digest) throws -> Manifest {
        let path = manifestPath(digest)
        guard FileSystem.exists(path) else { throw StoreError.missingManifest(digest) }
        do {
            return try Manifest.decode(try FileSystem.readAll(path), expectedDigest: digest)
        } catch let error as ManifestError {
            throw StoreError.invalidManifest(digest, error)
        }
    }

    public func manifestBytes(_ digest: Digest) throws -> [UInt8] {
        let path = manifestPath(digest)
        guard FileSystem.exists(path) else { throw StoreError.missingManifest(digest) }
        return try FileSystem.readAll(path)
    }

    // MARK: References

    func referencePath(_ reference: RepoReference, in directory: String? = nil) -> String {
        let revision = reference.revision.replacing("/", with: "%2F")
        return "\(directory ?? refsDirectory)/\(reference.organization)/\(reference.name)/\(revision)"
    }

    /// Points `reference` at `digest`; the previous manifest loses the pins that `reference` held on it.
    public func setReference(_ reference: RepoReference, to digest: Digest, pinned: Bool) throws {
        try setReference(reference, to: digest, pinned: pinned, syncing: nil)
    }

    /// `syncing(changes)`, when given, is called once, with whether the reference changes; when it does, after its
    /// new content is written beside its name and before the rename, in place of that file's own sync: a
    /// `syncfs` that makes it durable along with whatever else the caller wrote.
    func setReference(_ reference: RepoReference, to digest: Digest, pinned: Bool, syncing: ((Bool) throws -> Void)?) throws {
        // The pin's file goes first, so that the sync that makes the reference durable covers it too.
        if pinned { try writePinFile(digest, holder: Self.importHolder(reference), durable: syncing == nil) }
        let previous = try writeReference(reference, to: digest, in: refsDirectory, syncing: syncing)
        if let previous, previous != digest {
            for holder in Self.referenceHolders(reference) { try unpin(previous, holder: holder) }
        }
        if pinned { try database.pin(digest, holder: Self.importHolder(reference)) }
    }

    /// Atomically points `reference` in `directory` at `digest`; returns what it pointed at before.
    func writeReference(
        _ reference: RepoReference, to digest: Digest, in directory: String, syncing: ((Bool) throws -> Void)? = nil
    ) throws -> Digest? {
        let previous = try resolve(reference, in: directory)
        // Written once already: a re-import writes nothing.
        if previous == digest {
            try syncing?(false)
            return previous
        }
        let path = referencePath(reference, in: directory)
        try FileSystem.makeDirectories(FileSystem.parent(of: path))
        try FileSystem.writeAtomically(
            Array((digest.prefixed + "\n").utf8), to: path, temporaryDirectory: temporaryDirectory,
            beforeRename: syncing.map { syncing in { try syncing(true) } }
        )
        return previous
    }

    /// Writes content-addressed `bytes` to `path` unless they are there already; returns their digest and
    /// whether they were written.
    func writeOnce(_ bytes: [UInt8], named path: (Digest) -> String, durable: Bool = true) throws -> (digest: Digest, written: Bool) {
        let digest = SHA256Hasher.hash(bytes)
        guard !FileSystem.exists(path(digest)) else { return (digest, false) }
        try FileSystem.writeAtomically(bytes, to: path(digest), temporaryDirectory: temporaryDirectory, durable: durable)
        return (digest, true)
    }

    public func resolve(_ reference: RepoReference) throws -> Digest? {
        try resolve(reference, in: refsDirectory)
    }

    func resolve(_ reference: RepoReference, in directory: String) throws -> Digest? {
        let path = referencePath(reference, in: directory)
        guard FileSystem.exists(path) else { return nil }
        let text = String(decoding: try FileSystem.readAll(path), as: UTF8.self).trimmingWhitespace
        return Digest(prefixed: text)
    }

    public func requireManifest(_ reference: RepoReference) throws -> (digest: Digest, manifest: Manifest) {
        guard let digest = try resolve(reference) else { throw StoreError.unknownReference(reference.description) }
        return (digest, try manifest(digest))
    }

    /// Every reference in the store, sorted.
    public func references() throws -> [(reference: RepoReference, digest: Digest)] {
        try references(in: refsDirectory)
    }

    func references(in directory: String) throws -> [(reference: RepoReference, digest: Digest)] {
        var found: [(RepoReference, Digest)] = []
        for organization in try FileSystem.listing(of: directory) {
            for name in try FileSystem.listing(of: "\(directory)/\(organization)") {
                for file in try FileSystem.listing(of: "\(directory)/\(organization)/\(name)") where !file.hasPrefix("tmp-") {
                    let revision = file.replacing("%2F", with: "/")
                    guard let reference = try? RepoReference(organization: organization, name: name, revision: revision),
                        let digest = try resolve(reference, in: directory)
                    else { continue }
                    found.append((reference, digest))
                }
            }
        }
        return found.sorted { $0.0.description < $1.0.description }
    }

    /// Removes the reference and the pins it held; GC then frees what nothing else uses.
    public func removeReference(_ reference: RepoReference) throws {
        guard let digest = try resolve(reference) else { throw StoreError.unknownReference(reference.description) }
        guard unlink(referencePath(reference)) == 0 else { throw StoreError.fromErrno(errno, path: referencePath(reference), operation: "remove") }
        for holder in Self.referenceHolders(reference) { try unpin(digest, holder: holder) }
    }
}
