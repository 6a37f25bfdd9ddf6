import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct ChunkWriterTests {
    /// Bytes that differ from one position to the next, so a piece written at the wrong offset shows.
    static func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 9)) }
    }

    /// A file holding `bytes`, and a mapping of all of it (which outlives the descriptor it was made from).
    static func mapped(_ bytes: [UInt8], in scratch: TemporaryDirectory, name: String) throws -> (path: String, mapping: FileMapping) {
        let path = scratch.appending(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let input = try FileDescriptor.open(path, flags: O_RDONLY)
        return (path, try FileMapping(input, path: path, offset: 0, length: bytes.count))
    }

    @Test(arguments: StoreConfiguration.Compression.allCases)
    func chunksOfAnySizeAroundThePieceSizeAreStoredByteForByte(compression: StoreConfiguration.Compression) throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"), changes: .init(compression: compression))
        let piece = ChunkWriter.pieceBytes
        let sizes = [1, 4095, 4097, piece - 1, piece, piece + 1, 3 * piece + 123, 4 * piece]
        let chunks = try sizes.enumerated().map { index, size in
            let bytes = Self.bytes(size).map { $0 ^ UInt8(index) }
            return (id: SHA256Hasher.hash(bytes), bytes: bytes, mapping: try Self.mapped(bytes, in: scratch, name: "chunk-\(index)").mapping)
        }
        let writer = ChunkWriter(store: store, capacity: sizes.max() ?? 0, threads: 2)
        for chunk in chunks { try writer.write(chunk.id, from: chunk.mapping) }
        let written = try writer.finish()
        #expect(Set(written.stored) == Set(chunks.map(\.id)))
        for chunk in chunks {
            let location = try #require(store.location(of: chunk.id))
            let stored = try Array(Data(contentsOf: URL(fileURLWithPath: location.path)))
            #expect(try location.encoding.decode(stored, expectedSize: chunk.bytes.count) == chunk.bytes, "\(chunk.bytes.count) bytes")
        }
    }

    @Test(arguments: StoreConfiguration.Compression.allCases)
    func aChunkWhoseFileShrankBeforeItsCopyFailsNamingTheFileAndLeavesNoChunkFile(compression: StoreConfiguration.Compression) throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"), changes: .init(compression: compression))
        let bytes = Self.bytes(3 * ChunkWriter.pieceBytes + 123)
        let id = SHA256Hasher.hash(bytes)
        let (path, mapping) = try Self.mapped(bytes, in: scratch, name: "shrinking")
        #expect(truncate(path, off_t(ChunkWriter.pieceBytes + 4096)) == 0)
        let writer = ChunkWriter(store: store, capacity: bytes.count, threads: 2)
        try writer.write(id, from: mapping)
        #expect {
            _ = try writer.finish()
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("shrank")
        }
        #expect(!store.contains(id))
        let files = FileManager.default.subpaths(atPath: scratch.appending("store/chunks")) ?? []
        #expect(files.allSatisfy { FileSystem.kind(of: scratch.appending("store/chunks/\($0)")) == .directory }, "left behind: \(files)")
    }
}
