import MantaTestSupport
import Testing

@testable import MantaStore

/// The metadata database meeting a full disk is the store's full disk (`StoreError.diskFull`), so a pull that met
/// it there first removes what it stored, as it does when a chunk write meets it.
@Suite(.threadsOfItsOwn) struct DatabaseFullTests {
    @Test func aDatabaseThatCannotGrowReportsTheDiskFull() throws {
        let folder = try TemporaryDirectory()
        let connection = try SQLiteConnection(path: folder.appending("meta.db"))
        // SQLite's own page limit fails a write exactly as a full disk does (SQLITE_FULL).
        try connection.execute("CREATE TABLE filler(bytes BLOB); PRAGMA max_page_count = 4;")
        #expect {
            try connection.execute("INSERT INTO filler VALUES (zeroblob(1000000));")
        } throws: { error in
            guard case .diskFull? = error as? StoreError else { return false }
            return true
        }
    }
}
