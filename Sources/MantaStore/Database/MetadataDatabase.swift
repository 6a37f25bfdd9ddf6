import Dispatch
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#endif

/// The SQLite (WAL) index beside the chunk files: sizes, pins, which manifest uses which chunk, last access.
/// The files are the truth; start-up recovery brings this index back in line with them.
final class MetadataDatabase: Sendable {
    /// The outcome of opening; nil while a new database is being created.
    private let connection: Mutex<Result<SQLiteConnection, any Error>?>
    private let openedSignal = DispatchSemaphore(value: 0)
    let path: String
    /// Whether the database was there before, with its tables: a new one has nothing to reconcile with the files yet.
    let existed: Bool

    /// A database that does not exist yet is created on a thread of its own, after `setUp`: its schema's commits
    /// wait for the disk several times, and the command that created the store (an import, say) has hashing to do
    /// meanwhile. The first query waits for it and rethrows its error (or `setUp`'s). An existing database is
    /// opened here, as a new one is when no thread can be started for it; one found damaged is not an error yet
    /// (see `damage`), since an open that has the store to itself replaces it.
    init(path: String, setUp: @escaping @Sendable () throws -> Void = {}) throws {
        self.path = path
        guard FileSystem.exists(path) else {
            existed = false
            connection = Mutex(nil)
            let create: @Sendable () -> Void = { [self] in
                let outcome = Result {
                    try setUp()
                    return try Self.open(path).connection
                }
                connection.withLock { $0 = outcome }
                openedSignal.signal()
            }
            do { try DetachedThread.start(create) } catch { create() }
            return
        }
        try setUp()
        do {
            let opened = try Self.open(path)
            existed = opened.hadTables
            connection = Mutex(.success(opened.connection))
        } catch let error as StoreError {
            guard case .databaseDamaged = error else { throw error }
            existed = true
            connection = Mutex(.failure(error))
        }
    }

    /// Opens the database, creating its tables if missing; says whether they were there (an empty file, or one
    /// truncated to nothing, is a database without them).
    private static func open(_ path: String) throws -> (connection: SQLiteConnection, hadTables: Bool) {
        let connection = try SQLiteConnection(path: path)
        try connection.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")
        let hadTables = try connection.query("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'pins'").first?.first?.integer == 1
        // One transaction: a new store's schema is then one commit, not one per table. IMMEDIATE, so a second
        // process creating the same store waits for the first instead of failing to upgrade its read.
        try connection.execute(
            """
            BEGIN IMMEDIATE;
            CREATE TABLE IF NOT EXISTS chunks(
                id TEXT PRIMARY KEY, size INTEGER NOT NULL, stored_size INTEGER NOT NULL,
                compressed INTEGER NOT NULL, last_access INTEGER NOT NULL) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS chunks_by_access ON chunks(last_access);
            CREATE TABLE IF NOT EXISTS chunk_seals(id TEXT PRIMARY KEY, seal TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS manifests(
                digest TEXT PRIMARY KEY, logical_size INTEGER NOT NULL, last_access INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS manifest_chunks(
                manifest TEXT NOT NULL, chunk TEXT NOT NULL, PRIMARY KEY(manifest, chunk)) WITHOUT ROWID;
            CREATE INDEX IF NOT EXISTS manifest_chunks_by_chunk ON manifest_chunks(chunk);
            CREATE TABLE IF NOT EXISTS file_hashes(
                layout TEXT PRIMARY KEY, sha256 TEXT NOT NULL) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS pins(
                manifest TEXT NOT NULL, holder TEXT NOT NULL, PRIMARY KEY(manifest, holder)) WITHOUT ROWID;
            COMMIT;
            """)
        return (connection, hadTables)
    }

    /// Removes the write-ahead log of a database that is gone, which would otherwise be replayed into a new one.
    /// Only for a process that has the store to itself: one creating the database this moment has a new log by
    /// the same name.
    static func removeLog(of path: String) {
        unlink(path + "-wal")
        unlink(path + "-shm")
    }

    /// Why the database could not be opened, when it is damaged. Does not wait for a new database being created.
    var damage: String? {
        connection.withLock { outcome in
            guard case .failure(StoreError.databaseDamaged(_, let message)) = outcome else { return nil }
            return message
        }
    }

    /// Reads every page of the database (SQLite's `quick_check`): slow on a large store, so run only where the
    /// whole store is read anyway (recovery). Throws `StoreError.databaseDamaged` when it fails.
    func check() throws {
        try withConnection { db in
            let result = try db.query("PRAGMA quick_check(1)").first?.first?.text ?? ""
            guard result == "ok" else { throw StoreError.databaseDamaged(path: path, result) }
        }
    }

    /// Moves the damaged database (and its log) to `<path>.corrupt-<UTC time>` and starts an empty one in its
    /// place; returns where the damaged one went. Only for a process that has the store to itself.
    func replaceDamaged() throws -> String {
        waitUntilOpened()
        return try connection.withLock { outcome in
            // Closes the damaged connection before its files move.
            outcome = .failure(StoreError.databaseDamaged(path: path, "being replaced"))
            var now = time(nil)
            var parts = tm()
            gmtime_r(&now, &parts)
            var stamp = [CChar](repeating: 0, count: 32)
            strftime(&stamp, stamp.count, "%Y%m%dT%H%M%SZ", &parts)
            let aside = "\(path).corrupt-" + String(decoding: stamp.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            for suffix in ["", "-wal", "-shm"] where FileSystem.exists(path + suffix) {
                guard rename(path + suffix, aside + suffix) == 0 else {
                    throw StoreError.fromErrno(errno, path: path + suffix, operation: "move aside")
                }
            }
            let opened = Result { try Self.open(path).connection }
            outcome = opened
            _ = try opened.get()
            return aside
        }
    }

    func withConnection<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        waitUntilOpened()
        return try connection.withLock { outcome in
            guard let outcome else { preconditionFailure("waitUntilOpened returns only once the outcome is set") }
            return try body(outcome.get())
        }
    }

    /// Returns once the database is open (or failed to open), so that a process leaving soon after it created a
    /// store does not cut the schema's commit short.
    func waitUntilOpened() {
        guard connection.withLock({ $0 == nil }) else { return }
        openedSignal.wait()
        openedSignal.signal()
    }

    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000_000 + Int64(time.tv_nsec) / 1000
    }

    // MARK: Chunks

    func recordChunk(_ record: ChunkRecord) throws {
        try recordChunks([record])
    }

    func recordChunks(_ records: [ChunkRecord]) throws {
        let now = Self.now()
        try withConnection { db in
            try db.transaction {
                for record in records {
                    try db.query(
                        "INSERT INTO chunks(id, size, stored_size, compressed, last_access) VALUES(?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET last_access = excluded.last_access",
                        [
                            .text(record.id.hex), .integer(Int64(record.size)), .integer(Int64(record.storedSize)),
                            .integer(record.compressed ? 1 : 0), .integer(now),
                        ]
                    )
                    if let seal = record.seal { try Self.recordSeal(seal, of: record.id, in: db) }
                }
            }
        }
    }

    /// Records that the chunk files, as they are now, were checked against their ids.
    func recordSeals(_ seals: [(id: ChunkID, seal: ChunkSeal)]) throws {
        try withConnection { db in
            try db.transaction {
                for (id, seal) in seals { try Self.recordSeal(seal, of: id, in: db) }
            }
        }
    }

    private static func recordSeal(_ seal: ChunkSeal, of id: ChunkID, in db: SQLiteConnection) throws {
        try db.query(
            "INSERT INTO chunk_seals(id, seal) VALUES(?, ?) ON CONFLICT(id) DO UPDATE SET seal = excluded.seal", [.text(id.hex), .text(seal.text)])
    }

    func seal(of id: ChunkID) throws -> ChunkSeal? {
        try withConnection { db in
            try db.query("SELECT seal FROM chunk_seals WHERE id = ?", [.text(id.hex)]).first.flatMap { ChunkSeal(text: $0[0].text) }
        }
    }

    func forgetChunks(_ ids: [ChunkID]) throws {
        try withConnection { db in
            try db.transaction {
                for id in ids {
                    try db.query("DELETE FROM chunks WHERE id = ?", [.text(id.hex)])
                    try db.query("DELETE FROM chunk_seals WHERE id = ?", [.text(id.hex)])
                }
            }
        }
    }

    func touch(_ ids: some Sequence<ChunkID>) throws {
        let now = Self.now()
        try touch(ids.lazy.map { (id: $0, time: now) })
    }

    func touch(_ accesses: some Sequence<(id: ChunkID, time: Int64)>) throws {
        try withConnection { db in
            try db.transaction {
                for access in accesses {
                    try db.query("UPDATE chunks SET last_access = max(last_access, ?) WHERE id = ?", [.integer(access.time), .text(access.id.hex)])
                }
            }
        }
    }

    func chunkRecords() throws -> [ChunkRecord] {
        try withConnection { db in
            try db.query("SELECT id, size, stored_size, compressed, last_access FROM chunks ORDER BY last_access, id").compactMap { row in
                guard let id = Digest(hex: row[0].text) else { return nil }
                return ChunkRecord(
                    id: id, size: UInt64(row[1].integer), storedSize: UInt64(row[2].integer), compressed: row[3].integer != 0,
                    lastAccess: row[4].integer)
            }
        }
    }

    /// Bytes every chunk file takes, summed by SQLite (cheap enough to ask every few seconds).
    func storedBytes() throws -> UInt64 {
        try withConnection { db in UInt64(clamping: try db.query("SELECT COALESCE(SUM(stored_size), 0) FROM chunks").first?[0].integer ?? 0) }
    }

    // MARK: Manifests

    func recordManifest(_ digest: Digest, _ manifest: Manifest) throws {
        try withConnection { db in
            try db.transaction {
                try db.query(
                    "INSERT INTO manifests(digest, logical_size, last_access) VALUES(?, ?, ?) ON CONFLICT(digest) DO UPDATE SET last_access = excluded.last_access",
                    [.text(digest.hex), .integer(Int64(manifest.logicalSize)), .integer(Self.now())]
                )
                for id in manifest.chunkIDs {
                    try db.query("INSERT OR IGNORE INTO manifest_chunks(manifest, chunk) VALUES(?, ?)", [.text(digest.hex), .text(id.hex)])
                }
                for file in manifest.files {
                    try db.query(
                        "INSERT OR IGNORE INTO file_hashes(layout, sha256) VALUES(?, ?)",
                        [.text(Self.layoutKey(file.size, file.chunks).hex), .text(file.sha256.hex)])
                }
            }
        }
    }

    func forgetManifest(_ digest: Digest) throws {
        try withConnection { db in
            try db.transaction {
                try db.query("DELETE FROM manifests WHERE digest = ?", [.text(digest.hex)])
                try db.query("DELETE FROM manifest_chunks WHERE manifest = ?", [.text(digest.hex)])
                try db.query("DELETE FROM pins WHERE manifest = ?", [.text(digest.hex)])
            }
        }
    }

    func manifestDigests() throws -> [Digest] {
        try withConnection { db in try db.query("SELECT digest FROM manifests").compactMap { Digest(hex: $0[0].text) } }
    }

    /// Chunks used by at least one of `manifests`.
    func chunks(usedBy manifests: [Digest]) throws -> Set<ChunkID> {
        try withConnection { db in
            var used = Set<ChunkID>()
            for manifest in manifests {
                for row in try db.query("SELECT chunk FROM manifest_chunks WHERE manifest = ?", [.text(manifest.hex)]) {
                    if let id = Digest(hex: row[0].text) { used.insert(id) }
                }
            }
            return used
        }
    }

    /// The SHA-256 of a file already known to consist of exactly these chunks, if any manifest has one.
    func knownFileHash(size: UInt64, chunks: [Manifest.Chunk]) throws -> Digest? {
        try withConnection { db in
            try db.query("SELECT sha256 FROM file_hashes WHERE layout = ?", [.text(Self.layoutKey(size, chunks).hex)]).first.flatMap {
                Digest(hex: $0[0].text)
            }
        }
    }

    /// Equal keys mean equal bytes: the same chunk ids at the same offsets.
    static func layoutKey(_ size: UInt64, _ chunks: [Manifest.Chunk]) -> Digest {
        var hasher = SHA256Hasher()
        hasher.update(Array("\(size)\n".utf8))
        for chunk in chunks { hasher.update(Array("\(chunk.offset) \(chunk.length) \(chunk.id.hex)\n".utf8)) }
        return hasher.finalize()
    }

    // MARK: Pins

    func pin(_ digest: Digest, holder: String) throws {
        try withConnection { db in
            _ = try db.query("INSERT OR IGNORE INTO pins(manifest, holder) VALUES(?, ?)", [.text(digest.hex), .text(holder)])
        }
    }

    /// Removes the pins of `digest` whose holder is `holder`; returns how many went.
    @discardableResult
    func unpin(_ digest: Digest, holder: String) throws -> Int {
        try withConnection { db in
            let rows = try db.query("DELETE FROM pins WHERE manifest = ? AND holder = ? RETURNING holder", [.text(digest.hex), .text(holder)])
            return rows.count
        }
    }

    func pins() throws -> [(manifest: Digest, holder: String)] {
        try withConnection { db in
            try db.query("SELECT manifest, holder FROM pins ORDER BY manifest, holder").compactMap { row in
                Digest(hex: row[0].text).map { ($0, row[1].text) }
            }
        }
    }
}

struct ChunkRecord: Sendable, Hashable {
    var id: ChunkID
    var size: UInt64
    var storedSize: UInt64
    var compressed: Bool
    var lastAccess: Int64 = 0
    /// The file as it was when its bytes were checked, if they were.
    var seal: ChunkSeal? = nil
}
