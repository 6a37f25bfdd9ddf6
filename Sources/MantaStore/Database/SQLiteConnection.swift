import CSQLite

/// A thin SQLite connection. Not thread-safe by itself: `MetadataDatabase` only reaches it through a mutex,
/// which is what makes handing it between threads sound.
final class SQLiteConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    /// Each query's statement, prepared on first use: an import records a row per chunk, and preparing costs
    /// more than running.
    private var statements: [String: OpaquePointer] = [:]

    init(path: String) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw Self.error(status, path: path, message)
        }
        self.handle = handle
        sqlite3_busy_timeout(handle, 30_000)
        // Each CLI command is one process: a checkpoint (two syncs) at every exit would cost more than the command's
        // own commits. The write-ahead log is checkpointed as it grows instead, and read back on the next open.
        csqlite_skip_checkpoint_on_close(handle)
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close(handle)
    }

    var path: String { String(cString: sqlite3_db_filename(handle, "main")) }

    func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &error)
        guard status == SQLITE_OK else {
            let message = error.map { String(cString: $0) } ?? "unknown error"
            sqlite3_free(error)
            throw Self.error(status, path: path, message)
        }
    }

    enum Value {
        case integer(Int64)
        case text(String)
    }

    /// Runs `sql` with `bindings` and returns every row, each column as integer or text.
    @discardableResult
    func query(_ sql: String, _ bindings: [Value] = []) throws -> [[Value]] {
        let statement = try prepared(sql)
        defer {
            sqlite3_reset(statement)
            sqlite3_clear_bindings(statement)
        }
        for (index, value) in bindings.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .integer(let number): sqlite3_bind_int64(statement, position, number)
            case .text(let text): sqlite3_bind_text(statement, position, text, -1, csqlite_transient())
            }
        }
        var rows: [[Value]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { return rows }
            guard status == SQLITE_ROW else { throw Self.error(status, path: path, String(cString: sqlite3_errmsg(handle))) }
            rows.append(
                (0..<sqlite3_column_count(statement)).map { column in
                    if sqlite3_column_type(statement, column) == SQLITE_INTEGER {
                        return .integer(sqlite3_column_int64(statement, column))
                    }
                    return .text(sqlite3_column_text(statement, column).map { String(cString: $0) } ?? "")
                })
        }
    }

    private func prepared(_ sql: String) throws -> OpaquePointer {
        if let statement = statements[sql] { return statement }
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard status == SQLITE_OK, let statement else { throw Self.error(status, path: path, String(cString: sqlite3_errmsg(handle))) }
        statements[sql] = statement
        return statement
    }

    /// A file that is not a database, or one whose pages contradict each other, is damaged: the store can rebuild
    /// it from its files. A full disk is the store's full disk, whoever met it first (a pull then removes what it
    /// stored). Any other failure (a lock held too long) is the database's own.
    private static func error(_ status: Int32, path: String, _ message: String) -> StoreError {
        switch status & 0xff {
        case SQLITE_CORRUPT, SQLITE_NOTADB: .databaseDamaged(path: path, message)
        case SQLITE_FULL: .diskFull(path: path)
        default: .database(path: path, message)
        }
    }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}

extension SQLiteConnection.Value {
    var integer: Int64 {
        if case .integer(let number) = self { return number }
        return 0
    }

    var text: String {
        switch self {
        case .text(let text): text
        case .integer(let number): String(number)
        }
    }
}
