import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct SHA256HasherTests {
    static let engines: [SHA256Hasher.Engine] = [.shaExtensions, .openSSL].filter {
        $0 != .shaExtensions || SHA256Hasher.Engine.fastest == .shaExtensions
    }

    @Test(arguments: engines)
    func theStandardTestVectorsHashToTheirPublishedDigests(engine: SHA256Hasher.Engine) {
        let vectors: [([UInt8], String)] = [
            ([], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            (Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            (
                Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
                "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
            ),
            (Array(repeating: UInt8(ascii: "a"), count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        ]
        for (message, expected) in vectors {
            #expect(message.withUnsafeBytes { SHA256Hasher.hash($0, engine: engine) }.hex == expected, "\(message.count) bytes")
        }
    }

    @Test(arguments: engines)
    func aMessageFedInPiecesOfAnySizeHashesAsInOnePiece(engine: SHA256Hasher.Engine) {
        let message = (0..<10_000).map { UInt8(truncatingIfNeeded: ($0 &* 131) ^ ($0 >> 5)) }
        let whole = message.withUnsafeBytes { SHA256Hasher.hash($0, engine: .openSSL) }
        for pieceLength in [1, 7, 55, 63, 64, 65, 127, 129, 1000, 4096] {
            var hasher = SHA256Hasher(engine: engine)
            var offset = 0
            var pieces = 0
            while offset < message.count {
                // Pieces alternate between the length and one byte, so block edges fall everywhere in a piece.
                let length = min(pieces.isMultiple(of: 2) ? pieceLength : 1, message.count - offset)
                hasher.update(Array(message[offset..<offset + length]))
                offset += length
                pieces += 1
            }
            #expect(hasher.finalize() == whole, "pieces of \(pieceLength)")
        }
    }

    @Test(arguments: engines)
    func anAdvanceGivesThePiecesOwnDigestAndTakesThePieceInOnlyWhenApplied(engine: SHA256Hasher.Engine) {
        let message = (0..<20_000).map { UInt8(truncatingIfNeeded: ($0 &* 197) ^ ($0 >> 3)) }
        let whole = message.withUnsafeBytes { SHA256Hasher.hash($0, engine: .openSSL) }
        // Pieces that start on a block edge and pieces that first complete a pending partial block.
        for lengths in [[4096, 4096, 11_808], [64, 1000, 18_936], [0, 20_000], [100, 19_900], [10, 20, 30, 19_940], [63, 1, 19_936]] {
            var hasher = SHA256Hasher(engine: engine)
            var offset = 0
            for length in lengths {
                let piece = Array(message[offset..<offset + length])
                piece.withUnsafeBytes { bytes in
                    let unapplied = hasher.advance(over: bytes)
                    let advance = hasher.advance(over: bytes)
                    #expect(advance.digest == SHA256Hasher.hash(bytes, engine: .openSSL), "\(lengths): piece at \(offset)")
                    #expect(unapplied.digest == advance.digest, "advancing again from the same state")
                    hasher.apply(advance, bytes: bytes)
                }
                offset += length
            }
            #expect(hasher.finalize() == whole, "\(lengths)")
        }
    }
}
