import Foundation
import MantaHub
import MantaStore
import MantaTestSupport
import MantaTransfer
import MantaWire
import Testing

@testable import MantaAgent

/// What a node answers its peers about a pull stays within what an asker accepts.
@Suite(.threadsOfItsOwn) struct SwarmBoardLimitsTests {
    @Test func anAnswerCarriesAtMostTheCapOfChunkEntriesAndTheRestComeAfterWhatWasSeen() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let board = SwarmBoard(store: store, clock: ManualClock())
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

    @Test func whilePullingAnAnswerAboutTheCompleteRevisionIsKeptForItsLifetimeThenReadAgain() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let clock = ManualClock()
        let board = SwarmBoard(store: store, clock: clock)
        let commit = String(repeating: "c", count: 40)
        let model = scratch.appending("model")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 10_000).write(to: URL(fileURLWithPath: "\(model)/model.bin"))
        let reference = try RepoReference(parsing: "acme/small@main")
        var manifest = try store.manifest(try store.importDirectory(model, as: reference).digest)
        manifest.source = Manifest.Source(kind: "huggingface", repo: "acme/small", revision: "main", commit: commit)
        try store.setReference(reference, to: try store.put(manifest), pinned: true)
        _ = board.begin(repo: "acme/small", commit: commit)
        let query = SwarmQuery(repo: "acme/small", commit: commit, chunkSize: store.configuration.chunkSize, files: ["model.bin"])

        let digest = try #require(board.status(for: query).manifest)
        try store.removeReference(reference)
        clock.advance(by: SwarmBoard.completeAnswerLifetime - .milliseconds(1))
        #expect(board.status(for: query).manifest == digest, "within its lifetime the answer is not read again")
        clock.advance(by: .milliseconds(1))
        #expect(board.status(for: query).manifest == nil, "past its lifetime the answer is read again")
    }
}
