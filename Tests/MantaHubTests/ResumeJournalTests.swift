import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import Testing

@Suite(.threadsOfItsOwn) struct ResumeJournalTests {
    private static func entry(_ index: UInt64) -> ResumeJournal.Entry {
        ResumeJournal.Entry(span: ChunkSpan(offset: index << 22, length: 1 << 22), id: SHA256Hasher.hash([UInt8(index)]), new: index % 2 == 0)
    }

    @Test func aReaderGetsOnlyWhatWasAppendedSinceItLastReadAndStartsOverWhenTheJournalIsReplaced() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let journal = try ResumeJournal(
            store: store, repo: try HubRepoID("acme/model"), commit: String(repeating: "a", count: 40), file: "model.safetensors")
        var position = ResumeJournal.ReadPosition()
        #expect(journal.entries(since: &position).entries.isEmpty, "no journal yet")

        for index in 0..<3 { try journal.append(Self.entry(UInt64(index))) }
        let first = journal.entries(since: &position)
        #expect(first.entries == (0..<3).map { Self.entry(UInt64($0)) } && first.fromStart)

        try journal.append(Self.entry(3))
        // A line still being written (no newline yet) waits for the next read.
        let handle = try #require(FileHandle(forWritingAtPath: journal.path))
        handle.seekToEndOfFile()
        handle.write(Data("16777216 4194304 ab".utf8))
        let second = journal.entries(since: &position)
        #expect(second.entries == [Self.entry(3)] && !second.fromStart)
        handle.write(Data("\n".utf8))
        try handle.close()
        #expect(journal.entries(since: &position).entries.isEmpty, "the finished torn line is not an entry")
        #expect(journal.entries() == (0..<4).map { Self.entry(UInt64($0)) }, "a whole read skips it too")

        journal.remove()
        try journal.append(Self.entry(7))
        let replaced = journal.entries(since: &position)
        #expect(replaced.entries == [Self.entry(7)] && replaced.fromStart)
    }
}
