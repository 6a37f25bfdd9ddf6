import Foundation
import MantaStore
import MantaTestSupport
import Testing

/// Token files, as every server and client of Manta reads them: one line, trimmed, bounded, printable.
@Suite(.threadsOfItsOwn) struct TokenFileTests {
    @Test func theTokenIsTheFilesLineWithoutSurroundingWhitespace() throws {
        let folder = try TemporaryDirectory()
        let path = folder.appending("token")
        try "  s3cret-token\n\n".write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try TokenFile.read(path) == "s3cret-token")
    }

    @Test(arguments: [
        (Optional<String>.none, TokenFile.Problem.missing),
        (" \n\t", .empty),
        ("two words", .unprintable),
        (String(repeating: "x", count: TokenFile.maximumSize + 1), .tooLong),
    ])
    func aFileThatHoldsNoUsableTokenIsRefusedSayingWhy(contents: String?, problem: TokenFile.Problem) throws {
        let folder = try TemporaryDirectory()
        let path = folder.appending("token")
        if let contents { try contents.write(toFile: path, atomically: true, encoding: .utf8) }
        #expect(throws: problem) { try TokenFile.read(path) }
    }

    @Test func aFolderWhereTheFileShouldBeIsUnreadable() throws {
        let folder = try TemporaryDirectory()
        #expect {
            try TokenFile.read(folder.path)
        } throws: { error in
            guard case .unreadable(let reason) = error as? TokenFile.Problem else { return false }
            return reason.contains("directory")
        }
    }
}
