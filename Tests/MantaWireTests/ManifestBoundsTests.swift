import MantaStore
import MantaTestSupport
import Testing

/// Manifests arrive from peers: every number in them is refused with a clear error, never trapped on.
@Suite(.threadsOfItsOwn) struct ManifestBoundsTests {
    static let id = SHA256Hasher.hash([1])

    static func manifest(size: UInt64, chunks: [(offset: UInt64, length: UInt64)], files: Int = 1) -> Manifest {
        let source = Manifest.Source(kind: "huggingface", repo: "acme/hostile", revision: "main", commit: String(repeating: "a", count: 40))
        let entries = (0..<files).map { index in
            Manifest.File(
                path: "file\(index).bin", size: size, sha256: id, scheme: .fixed,
                chunks: chunks.map { Manifest.Chunk(offset: $0.offset, length: $0.length, id: id) }
            )
        }
        return Manifest(source: source, chunkSize: 4 << 20, files: entries)
    }

    @Test func chunksWhoseEndWouldOverflowAreRefusedNotTrappedOn() {
        let half: UInt64 = 1 << 63
        #expect(throws: ManifestError.tooLarge("file0.bin", size: .max)) {
            try Self.manifest(size: .max, chunks: [(0, half), (half, half)]).validate()
        }
        #expect(throws: ManifestError.chunkTooLong("file0.bin", offset: 4, length: .max - 3)) {
            try Self.manifest(size: 8, chunks: [(0, 4), (4, .max - 3)]).validate()
        }
        #expect(throws: ManifestError.chunksDoNotTile("file0.bin")) {
            try Self.manifest(size: 8, chunks: [(0, 4), (.max - 1, 4)]).validate()
        }
        #expect(throws: ManifestError.chunksDoNotTile("file0.bin")) {
            try Self.manifest(size: 8, chunks: [(0, 4), (4, 8)]).validate()
        }
    }

    @Test func aChunkLongerThanTheLargestChunkIsRefused() {
        let long = UInt64(ChunkEncoding.maximumChunkSize) + 1
        #expect(throws: ManifestError.chunkTooLong("file0.bin", offset: 0, length: long)) {
            try Self.manifest(size: long, chunks: [(0, long)]).validate()
        }
        let error = #expect(throws: ManifestError.self) { try Self.manifest(size: long, chunks: [(0, long)]).validate() }
        #expect("\(error.map { "\($0)" } ?? "")".contains("above the largest chunk"))
        #expect(throws: Never.self) {
            let largest = UInt64(ChunkEncoding.maximumChunkSize)
            try Self.manifest(size: largest, chunks: [(0, largest)]).validate()
        }
    }

    @Test func aFileAboveTheLogicalLimitIsRefusedBeforeItsChunksAreRead() {
        let limit = Manifest.maximumLogicalSize
        #expect(throws: ManifestError.tooLarge("file0.bin", size: limit + 1)) {
            try Self.manifest(size: limit + 1, chunks: [(0, 1)]).validate()
        }
    }

    @Test func manifestBytesAboveTheCapAreRefusedBeforeDecoding() {
        let bytes = [UInt8](repeating: UInt8(ascii: " "), count: Manifest.maximumEncodedSize + 1)
        let error = #expect(throws: ManifestError.self) { try Manifest.decode(bytes) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("more than the \(Manifest.maximumEncodedSize)"))
    }
}
