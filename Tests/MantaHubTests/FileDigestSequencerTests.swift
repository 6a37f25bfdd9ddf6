import MantaHub
import MantaStore
import MantaTestSupport
import Testing

/// The whole-file hash a pull builds while chunks are stored in any order.
@Suite struct FileDigestSequencerTests {
    /// Not a multiple of 64: the file hash has a partial block pending as each chunk after the first arrives.
    static let chunkBytes = (64 << 10) + 5

    /// Three chunks of a file, the last one short.
    static let file: [UInt8] = (0..<(2 * chunkBytes + 1000)).map { UInt8(truncatingIfNeeded: ($0 &* 151) ^ ($0 >> 7)) }
    static let spans = stride(from: 0, to: file.count, by: chunkBytes).map {
        ChunkSpan(offset: UInt64($0), length: UInt64(min(chunkBytes, file.count - $0)))
    }

    static func bytes(of span: ChunkSpan, in file: [UInt8] = file) -> [UInt8] {
        Array(file[Int(span.offset)..<Int(span.end)])
    }

    @Test func chunksStoredInAnyOrderGiveTheFilesDigestAndTheirOwnIDs() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        for order in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]] {
            let sequencer = FileDigestSequencer(path: "model.bin", size: UInt64(Self.file.count))
            for index in order {
                let bytes = Self.bytes(of: Self.spans[index])
                let id = try bytes.withUnsafeBytes { bytes in
                    try sequencer.store(Self.spans[index], bytes: bytes, into: store) { id in _ = try store.put(id, bytes: bytes) }
                }
                #expect(id == SHA256Hasher.hash(bytes), "\(order): chunk \(index)")
            }
            #expect(try sequencer.finish(store: store) == SHA256Hasher.hash(Self.file), "\(order)")
            #expect(sequencer.hashedChunks.map(\.offset) == Self.spans.map(\.offset), "\(order)")
        }
    }

    @Test func aChunkThatFailsToStoreLeavesTheFilesHashAsItWas() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"))
        let sequencer = FileDigestSequencer(path: "model.bin", size: UInt64(Self.file.count))
        // The first chunk arrives in order, is hashed with the file, and fails to store (a full disk, say).
        var first = Self.bytes(of: Self.spans[0])
        first[0] ^= 0xFF
        #expect(throws: TestFailure.self) {
            try first.withUnsafeBytes { bytes in
                try sequencer.store(Self.spans[0], bytes: bytes, into: store) { _ in throw TestFailure("disk full") }
            }
        }
        // Fetched again, the bytes stored then are the ones the file's hash holds.
        for span in Self.spans {
            let bytes = Self.bytes(of: span)
            _ = try bytes.withUnsafeBytes { bytes in
                try sequencer.store(span, bytes: bytes, into: store) { id in _ = try store.put(id, bytes: bytes) }
            }
        }
        #expect(try sequencer.finish(store: store) == SHA256Hasher.hash(Self.file))
    }
}
