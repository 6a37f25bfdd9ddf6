import Testing
@testable import MantaStore

@Suite struct ChunkPairHasherTests {
    static let lengths = [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 4095, 4097, 300_001]

    /// Bytes that differ from one position and one message to the next, so a swapped or shifted block shows.
    static func message(_ length: Int, seed: Int) -> [UInt8] {
        (0..<length).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 7) &+ seed) }
    }

    static func hash(_ messages: [[UInt8]], pieceSize: Int, interleaving: Bool = ChunkPairHasher.interleaves) throws -> [Digest] {
        let buffers = messages.indices.map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: pieceSize, alignment: 64) }
        defer { for buffer in buffers { buffer.deallocate() } }
        let ranges = messages.map { message in
            ChunkPairHasher.Range(length: message.count) { buffer, offset in
                buffer.copyBytes(from: message[offset..<offset + buffer.count])
            }
        }
        return try ChunkPairHasher.hash(ranges, through: buffers, interleaving: interleaving)
    }

    @Test(arguments: [64, 4096, 1 << 20])
    func pairsOfEveryLengthHashAsOpenSSLDoesThroughAnyPieceSize(pieceSize: Int) throws {
        for first in Self.lengths {
            for second in Self.lengths {
                let messages = [Self.message(first, seed: 1), Self.message(second, seed: 2)]
                #expect(try Self.hash(messages, pieceSize: pieceSize) == messages.map { SHA256Hasher.hash($0) }, "lengths \(first), \(second)")
            }
        }
    }

    @Test(arguments: [true, false])
    func aSingleRangeHashesAsOpenSSLDoes(interleaving: Bool) throws {
        for length in Self.lengths {
            let message = Self.message(length, seed: 3)
            #expect(try Self.hash([message], pieceSize: 4096, interleaving: interleaving) == [SHA256Hasher.hash(message)], "length \(length)")
        }
    }

    @Test func withoutTheSHAExtensionsPairsAreHashedOneByOne() throws {
        let messages = [Self.message(300_001, seed: 4), Self.message(65, seed: 5)]
        #expect(try Self.hash(messages, pieceSize: 4096, interleaving: false) == messages.map { SHA256Hasher.hash($0) })
    }

    @Test func aFailedReadIsThrownNotHashed() {
        struct Unreadable: Error {}
        let buffers = (0..<2).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: 4096, alignment: 64) }
        defer { for buffer in buffers { buffer.deallocate() } }
        let ranges = [
            ChunkPairHasher.Range(length: 10_000) { buffer, _ in buffer.initializeMemory(as: UInt8.self, repeating: 0) },
            ChunkPairHasher.Range(length: 10_000) { _, offset in if offset > 0 { throw Unreadable() } },
        ]
        #expect(throws: Unreadable.self) { try ChunkPairHasher.hash(ranges, through: buffers) }
    }
}
