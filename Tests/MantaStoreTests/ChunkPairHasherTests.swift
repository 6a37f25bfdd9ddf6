import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct ChunkPairHasherTests {
    /// Lengths around the block size and its padding limit, and long ones; offsets unaligned.
    static let lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 4095, 4097, 300_001, 1_000_003, 2_500_000]

    /// How `hashAll` goes through its ranges: copied for OpenSSL, in place two at a time, or sixteen at a time
    /// (where the CPU has AVX-512) down to two left.
    enum Way: Sendable, CustomTestStringConvertible {
        case copied, paired, sixteenAtOnce

        static let available: [Way] = [.copied, .paired] + (HashCosts.measured.sixteen != nil ? [.sixteenAtOnce] : [])

        var testDescription: String { "\(self)" }

        func hashAll<Item>(next: () throws -> (item: Item, mapping: FileMapping)?, done: (Item, FileMapping, Digest) throws -> Void) throws {
            try ChunkPairHasher.hashAll(interleaving: self != .copied, sixteenFrom: self == .sixteenAtOnce ? 2 : nil, next: next, done: done)
        }
    }

    /// The reference the SHA extensions' hashes are checked against.
    static func openSSL(_ bytes: [UInt8]) -> Digest {
        bytes.withUnsafeBytes { SHA256Hasher.hash($0, engine: .openSSL) }
    }

    /// A file whose bytes differ from one position to the next, so a swapped or shifted block shows.
    static func file(in scratch: TemporaryDirectory, size: Int) throws -> (path: String, bytes: [UInt8]) {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 7)) }
        let path = scratch.appending("data")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    @Test(arguments: Way.available)
    func everyRangeHashesAsOpenSSLDoesWhetherCopiedPairedOrSixteenAtOnce(way: Way) throws {
        let scratch = try TemporaryDirectory()
        let (path, bytes) = try Self.file(in: scratch, size: 3 << 20)
        let ranges = Self.lengths.enumerated().flatMap { index, length in
            [(offset: 7 * index + 1, length: length), (offset: 4096 * index, length: length)]
        }
        let input = try FileDescriptor.open(path, flags: O_RDONLY)
        var handedOut = 0
        var digests: [Int: Digest] = [:]
        try way.hashAll(
            next: { () throws -> (item: Int, mapping: FileMapping)? in
                guard handedOut < ranges.count else { return nil }
                defer { handedOut += 1 }
                let range = ranges[handedOut]
                return (handedOut, try FileMapping(input, path: path, offset: UInt64(range.offset), length: range.length))
            },
            done: { (item: Int, _: FileMapping, digest: Digest) in
                digests[item] = digest
            })
        #expect(digests.count == ranges.count)
        for (index, range) in ranges.enumerated() {
            #expect(
                digests[index] == Self.openSSL(Array(bytes[range.offset..<range.offset + range.length])),
                "offset \(range.offset), length \(range.length)")
        }
    }

    @Test(arguments: Way.available)
    func aFileThatShrinksUnderItsMappingIsAnErrorNamingItNotACrash(way: Way) throws {
        let scratch = try TemporaryDirectory()
        let (path, _) = try Self.file(in: scratch, size: 1 << 20)
        let input = try FileDescriptor.open(path, flags: O_RDWR)
        let mapping = try FileMapping(input, path: path, offset: 0, length: 1 << 20)
        #expect(ftruncate(input.raw, 4096) == 0)
        var handedOut = 0
        #expect {
            // Twice, so the sixteen lanes hash it (and a scratch lane repeats it).
            try way.hashAll(
                next: { () throws -> (item: Int, mapping: FileMapping)? in
                    defer { handedOut += 1 }
                    return handedOut < 2 ? (handedOut, mapping) : nil
                }, done: { (_: Int, _: FileMapping, _: Digest) in })
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("shrank")
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 1)
        defer { copy.deallocate() }
        #expect(throws: StoreError.self) { try mapping.copy(into: copy, from: 8192) }
    }

    /// A file's hash and its chunks' ids in one pass over mappings, as an import makes them.
    static func hashInOnePass(
        _ input: borrowing FileDescriptor, path: String, size: UInt64, spans: [ChunkSpan], interleaving: Bool = ChunkPairHasher.interleaves,
        cancelled: () -> Bool = { false }, chunkDone: (Int, FileMapping, Digest) throws -> Void
    ) throws -> Digest? {
        try ChunkPairHasher.hashFile(size: size, segments: spans, chunkIDs: true, interleaving: interleaving, cancelled: cancelled) {
            index, preceding in
            try FileMapping(input, path: path, offset: spans[index].offset, length: Int(spans[index].length), preceding: preceding)
        } segmentDone: { index, chunk, id in
            try chunkDone(index, chunk, id)
        }
    }

    /// Tilings with chunks shorter than a block, chunks ending mid-block, and one chunk for the whole file.
    static let tilings: [[Int]] = [[1_000_003, 2_145_725], [1, 63, 64, 65, 130, 3_145_405], [3_145_728], (0..<48).map { _ in 65_536 }]

    @Test(arguments: [true, false])
    func aFileHashedInOnePassGivesItsHashAndEachChunksIDAsHashedApart(interleaving: Bool) throws {
        let scratch = try TemporaryDirectory()
        let (path, bytes) = try Self.file(in: scratch, size: 3 << 20)
        let input = try FileDescriptor.open(path, flags: O_RDONLY)
        for lengths in Self.tilings {
            let offsets = lengths.indices.map { lengths[..<$0].reduce(0, +) }
            let spans = zip(offsets, lengths).map { ChunkSpan(offset: UInt64($0), length: UInt64($1)) }
            var ids: [Int: Digest] = [:]
            let digest = try Self.hashInOnePass(input, path: path, size: UInt64(bytes.count), spans: spans, interleaving: interleaving) {
                index, chunk, id in
                #expect(chunk.offset == spans[index].offset && chunk.bytes.count == Int(spans[index].length))
                ids[index] = id
            }
            #expect(digest == Self.openSSL(bytes))
            #expect(ids.count == spans.count)
            for (index, span) in spans.enumerated() {
                #expect(ids[index] == Self.openSSL(Array(bytes[Int(span.offset)..<Int(span.end)])), "chunk \(index) of \(lengths.count)")
            }
        }
        let alone = try ChunkPairHasher.hashFile(input, path: path, size: UInt64(bytes.count), interleaving: interleaving, cancelled: { false })
        #expect(alone == Self.openSSL(bytes))
    }

    @Test(arguments: [true, false])
    func aFileThatShrinksDuringItsOnePassIsAnErrorNamingIt(interleaving: Bool) throws {
        let scratch = try TemporaryDirectory()
        let (path, _) = try Self.file(in: scratch, size: 2 << 20)
        let input = try FileDescriptor.open(path, flags: O_RDWR)
        let spans = [ChunkSpan(offset: 0, length: 1 << 20), ChunkSpan(offset: 1 << 20, length: 1 << 20)]
        var chunks = 0
        #expect {
            try Self.hashInOnePass(input, path: path, size: 2 << 20, spans: spans, interleaving: interleaving) { _, _, _ in
                chunks += 1
                #expect(ftruncate(input.raw, 4096) == 0)
            }
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("shrank")
        }
        #expect(chunks == 1)
    }

    @Test func aCancelledPassStopsWithoutAHash() throws {
        let scratch = try TemporaryDirectory()
        let (path, _) = try Self.file(in: scratch, size: 2 << 20)
        let input = try FileDescriptor.open(path, flags: O_RDONLY)
        var chunks = 0
        let spans = [ChunkSpan(offset: 0, length: 1 << 20), ChunkSpan(offset: 1 << 20, length: 1 << 20)]
        let digest = try Self.hashInOnePass(input, path: path, size: 2 << 20, spans: spans, cancelled: { chunks > 0 }) { _, _, _ in chunks += 1 }
        #expect(digest == nil)
        #expect(chunks == 1)
    }
}
