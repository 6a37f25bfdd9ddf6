import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct ByteGroupedCompressionTests {
    /// 1 MiB of BF16 tensor bytes from the synthetic fixture.
    static func bf16Bytes() throws -> [UInt8] {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: try Fixtures.syntheticShards() + "/model-00001-of-00002.safetensors"))
        defer { try? handle.close() }
        try handle.seek(toOffset: 1 << 20)
        return Array(try handle.read(upToCount: 1 << 20) ?? Data())
    }

    static func encoded(_ bytes: [UInt8], compression: StoreConfiguration.Compression = .zstdBytegroup) -> (ChunkEncoding, [UInt8]) {
        bytes.withUnsafeBytes { buffer in ChunkEncoder(compression: compression).withEncoded(buffer) { ($0, Array($1)) } }
    }

    @Test func aBytegroupStoreExportsTheBF16ShardsAndGGUFByteIdenticalFromByteGroupedChunks() throws {
        let scratch = try TemporaryDirectory()
        let store = try Store(root: scratch.appending("store"), changes: .init(compression: .zstdBytegroup))
        for (source, name) in [(try Fixtures.syntheticShards(), "acme/shards"), (try Fixtures.gguf(), "acme/gguf")] {
            let reference = try RepoReference(parsing: name)
            try store.importDirectory(source, as: reference)
            try store.export(reference, to: scratch.appending(name))
            #expect(try StoreRoundTripTests.filesAreIdentical(source, scratch.appending(name)))
        }
        #expect(ChunkFiles.encodingCounts(storeRoot: store.root)[.byteGrouped, default: 0] > 0)
    }

    @Test func theBF16ShardsStoreAtLeastFivePercentSmallerWithBytegroupThanWithPlainZstd() throws {
        let scratch = try TemporaryDirectory()
        var stored: [StoreConfiguration.Compression: UInt64] = [:]
        for compression in [StoreConfiguration.Compression.zstd, .zstdBytegroup] {
            let store = try Store(root: scratch.appending(compression.rawValue), changes: .init(compression: compression))
            try store.importDirectory(try Fixtures.syntheticShards(), as: try RepoReference(parsing: "acme/shards"))
            stored[compression] = try store.usage().storedBytes
        }
        let zstd = try #require(stored[.zstd])
        let grouped = try #require(stored[.zstdBytegroup])
        #expect(Double(grouped) < 0.95 * Double(zstd), "zstd-bytegroup \(grouped) bytes, zstd \(zstd) bytes")
    }

    @Test func eachChunkGetsTheSmallestEncodingThatSavesEightPercent() throws {
        var random = SystemRandomNumberGenerator()
        let text = Array(String(repeating: "{\"dtype\": \"BF16\", \"shape\": [2048, 8192], \"data_offsets\": [0, 33554432]}\n", count: 4000).utf8)
        let cases: [(String, [UInt8], ChunkEncoding)] = [
            ("BF16 tensor bytes", try Self.bf16Bytes(), .byteGrouped),
            ("BF16 tensor bytes too few to probe", Array(try Self.bf16Bytes().prefix(3 * ChunkEncoder.probeSize)), .byteGrouped),
            ("an odd-length BF16 run", Array(try Self.bf16Bytes().dropLast()), .zstd),
            ("JSON text, which grouping does not help", text.count % 2 == 0 ? text : Array(text.dropLast()), .zstd),
            ("noise", (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &random) }, .plain),
        ]
        for (name, bytes, expected) in cases {
            let (encoding, stored) = Self.encoded(bytes)
            #expect(encoding == expected, "\(name)")
            #expect(encoding == .plain || Double(stored.count) <= 0.92 * Double(bytes.count), "\(name)")
            #expect(try encoding.decode(stored, expectedSize: bytes.count) == bytes, "\(name)")
        }
        #expect(Self.encoded(try Self.bf16Bytes(), compression: .zstd).0 == .zstd)
    }

    @Test func decodingAByteGroupedFrameChecksEverySizeItStates() throws {
        let bytes = try Self.bf16Bytes()
        let (encoding, frame) = Self.encoded(bytes)
        try #require(encoding == .byteGrouped)
        func changed(_ offset: Int, _ replacement: [UInt8]) -> [UInt8] {
            var copy = frame
            copy.replaceSubrange(offset..<offset + replacement.count, with: replacement)
            return copy
        }
        func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
        let planeSize = Int(UInt32(littleEndian: frame.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 13, as: UInt32.self) }))
        let cases: [(String, [UInt8], ChunkDecodingError)] = [
            ("shorter than a header", Array(frame.prefix(10)), .truncated(needed: ByteGroupedFrame.headerSize, available: 10)),
            ("missing its last byte", Array(frame.dropLast()), .truncated(needed: frame.count, available: frame.count - 1)),
            ("one byte too many", frame + [0], .framing("1 bytes follow the last plane")),
            ("another magic", changed(0, Array("XYZ".utf8)), .notByteGrouped),
            ("a future version", changed(3, [9]), .unsupportedVersion(9)),
            ("elements of 4 bytes", changed(4, [4]), .unsupportedStride(4)),
            ("a 1 TiB length", changed(5, littleEndian(UInt64(1) << 40)), .implausibleSize(stated: 1 << 40, limit: ChunkEncoding.maximumChunkSize)),
            (
                "an odd length", changed(5, littleEndian(UInt64(bytes.count - 1))),
                .framing("decoded length \(bytes.count - 1) is not a multiple of 2")
            ),
            (
                "a plane size past the end", changed(13, littleEndian(UInt32(planeSize + 1))),
                .truncated(needed: frame.count + 1, available: frame.count)
            ),
        ]
        for (name, damaged, error) in cases {
            #expect(throws: error, "\(name)") { try ChunkEncoding.byteGrouped.decode(damaged) }
        }
        #expect(throws: ChunkDecodingError.wrongDecodedSize(actual: UInt64(bytes.count), expected: 10)) {
            try ChunkEncoding.byteGrouped.decode(frame, expectedSize: 10)
        }
        // A smaller (even) length than the planes hold: zstd finds the planes too large for it.
        #expect(throws: ChunkDecodingError.self) { try ChunkEncoding.byteGrouped.decode(changed(5, littleEndian(UInt64(bytes.count - 2)))) }
        #expect(try ChunkEncoding.byteGrouped.decode(frame) == bytes)
    }

    @Test func aZstdFrameClaimingAHugeSizeIsRefusedBeforeAllocating() {
        // Frame header: magic, descriptor 0xE0 (single segment, 8-byte content size), content size 1 TiB.
        let frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0] + withUnsafeBytes(of: (UInt64(1) << 40).littleEndian, Array.init)
        #expect(throws: ChunkDecodingError.implausibleSize(stated: 1 << 40, limit: ChunkEncoding.maximumChunkSize)) {
            try ChunkEncoding.zstd.decode(frame)
        }
    }

    @Test func recoveryIndexesByteGroupedChunksAtTheirDecodedSize() throws {
        let scratch = try TemporaryDirectory()
        let root = scratch.appending("store")
        let before = try {
            let store = try Store(root: root, changes: .init(compression: .zstdBytegroup))
            try store.importDirectory(try Fixtures.syntheticShards(), as: try RepoReference(parsing: "acme/shards"))
            return try store.usage()
        }()
        for suffix in ["", "-wal", "-shm"] { unlink("\(root)/meta.db\(suffix)") }
        let after = try Store(root: root).usage()
        #expect(after.uniqueBytes == before.uniqueBytes)
        #expect(after.storedBytes == before.storedBytes)
        #expect(after.chunkCount == before.chunkCount)
    }
}
