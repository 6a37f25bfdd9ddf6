import MantaHub
import MantaStore
import MantaTestSupport
import MantaWire
import Testing

@testable import MantaAgent

/// What a node answers its peers about a pull stays within what an asker accepts.
@Suite(.threadsOfItsOwn) struct SwarmBoardLimitsTests {
    @Test func anAnswerCarriesAtMostTheCapOfChunkEntriesAndTheRestComeAfterWhatWasSeen() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let board = SwarmBoard(store: store)
        let commit = String(repeating: "c", count: 40)
        _ = board.begin(repo: "acme/big", commit: commit)
        let journal = try ResumeJournal(store: store, repo: try HubRepoID("acme/big"), commit: commit, file: "model.bin")
        let count = SwarmStatus.maximumChunks + 10
        for index in 0..<count {
            let id = SHA256Hasher.hash(Array("\(index)".utf8))
            try journal.append(.init(span: ChunkSpan(offset: UInt64(index) * 4096, length: 4096), id: id, new: true))
        }
        var query = SwarmQuery(repo: "acme/big", commit: commit, chunkSize: store.configuration.chunkSize, files: ["model.bin", "not/pulled.bin"])
        let first = board.status(for: query)
        #expect(first.chunks["model.bin"]?.count == SwarmStatus.maximumChunks)
        #expect(first.chunks["not/pulled.bin"] == nil)
        #expect(throws: Never.self) { try first.validated(for: query, maximumChunkSize: UInt64(ChunkEncoding.maximumChunkSize)) }
        query.seen = ["model.bin": SwarmStatus.maximumChunks]
        let rest = board.status(for: query)
        #expect(rest.chunks["model.bin"]?.first?.offset == UInt64(SwarmStatus.maximumChunks) * 4096)
        #expect(rest.chunks["model.bin"]?.count == 10)
    }
}
