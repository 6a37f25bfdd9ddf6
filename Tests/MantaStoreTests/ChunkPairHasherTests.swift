import Foundation
import MantaTestSupport
import Testing
@testable import MantaStore

@Suite struct ChunkPairHasherTests {
    /// Lengths around the block size and its padding limit, and long ones; offsets unaligned.
    static let lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 4095, 4097, 300_001, 1_000_003]

    /// A file whose bytes differ from one position to the next, so a swapped or shifted block shows.
    static func file(in scratch: TemporaryDirectory, size: Int) throws -> (path: String, bytes: [UInt8]) {
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 7)) }
        let path = scratch.appending("data")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return (path, bytes)
    }

    @Test(arguments: [true, false])
    func everyRangeHashesAsOpenSSLDoesWhetherPairedOrCopied(interleaving: Bool) throws {
        let scratch = try TemporaryDirectory()
        let (path, bytes) = try Self.file(in: scratch, size: 3 << 20)
        let ranges = Self.lengths.enumerated().flatMap { index, length in [(offset: 7 * index + 1, length: length), (offset: 4096 * index, length: length)] }
        let input = try FileDescriptor.open(path, flags: O_RDONLY)
        var handedOut = 0
        var digests: [Int: Digest] = [:]
        try ChunkPairHasher.hashAll(interleaving: interleaving, next: { () throws -> (item: Int, mapping: FileMapping)? in
            guard handedOut < ranges.count else { return nil }
            defer { handedOut += 1 }
            let range = ranges[handedOut]
            return (handedOut, try FileMapping(input, path: path, offset: UInt64(range.offset), length: range.length))
        }, done: { (item: Int, _: FileMapping, digest: Digest) in
            digests[item] = digest
        })
        #expect(digests.count == ranges.count)
        for (index, range) in ranges.enumerated() {
            #expect(digests[index] == SHA256Hasher.hash(Array(bytes[range.offset..<range.offset + range.length])), "offset \(range.offset), length \(range.length)")
        }
    }

    @Test(arguments: [true, false])
    func aFileThatShrinksUnderItsMappingIsAnErrorNamingItNotACrash(interleaving: Bool) throws {
        let scratch = try TemporaryDirectory()
        let (path, _) = try Self.file(in: scratch, size: 1 << 20)
        let input = try FileDescriptor.open(path, flags: O_RDWR)
        let mapping = try FileMapping(input, path: path, offset: 0, length: 1 << 20)
        #expect(ftruncate(input.raw, 4096) == 0)
        var handedOut = false
        #expect {
            try ChunkPairHasher.hashAll(interleaving: interleaving, next: { () throws -> (item: Int, mapping: FileMapping)? in
                defer { handedOut = true }
                return handedOut ? nil : (0, mapping)
            }, done: { (_: Int, _: FileMapping, _: Digest) in })
        } throws: { error in
            "\(error)".contains(path) && "\(error)".contains("shrank")
        }
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: 100, alignment: 1)
        defer { copy.deallocate() }
        #expect(throws: StoreError.self) { try mapping.copy(into: copy, from: 8192) }
    }
}
