import CSHA256

/// Hashes one or two byte ranges at a time, read piece by piece into buffers the caller owns. Where the CPU has
/// the SHA extensions, two ranges share one core in about 55% of the time of one after the other: a single
/// message waits on each round's latency, and the other's rounds fill those waits. Buffers smaller than a chunk
/// keep a re-import from touching fresh memory, which costs more than the hashing on some VMs
/// (benchmarks/RESULTS.md, Import); buffers as large as the chunks leave their bytes in them for writing.
public enum ChunkPairHasher {
    /// Whether two ranges share a core (x86-64 with the SHA extensions); otherwise each is hashed with OpenSSL.
    public static let interleaves = csha256_supported() == 1

    /// A range to hash: `read(buffer, offset)` fills `buffer` with the range's bytes from `offset` on (relative
    /// to the range) or throws.
    public struct Range {
        public var length: Int
        public var read: (UnsafeMutableRawBufferPointer, Int) throws -> Void

        public init(length: Int, read: @escaping (UnsafeMutableRawBufferPointer, Int) throws -> Void) {
            self.length = length
            self.read = read
        }
    }

    /// The digests of `ranges` (one or two), reading range i through `buffers[i]` in pieces of the buffers' size
    /// (equal, a multiple of 64 bytes).
    public static func hash(_ ranges: [Range], through buffers: [UnsafeMutableRawBufferPointer]) throws -> [Digest] {
        try hash(ranges, through: buffers, interleaving: interleaves)
    }

    static func hash(_ ranges: [Range], through buffers: [UnsafeMutableRawBufferPointer], interleaving: Bool) throws -> [Digest] {
        let pieceSize = buffers.first?.count ?? 0
        precondition(ranges.count <= buffers.count && pieceSize > 0 && pieceSize % 64 == 0 && buffers.allSatisfy { $0.count == pieceSize })
        guard interleaving else { return try zip(ranges, buffers).map { try hashAlone($0, through: $1) } }
        var states = ranges.map { _ in csha256_state() }
        for index in states.indices { csha256_begin(&states[index]) }
        var digests = [Digest?](repeating: nil, count: ranges.count)
        var done = 0
        repeat {
            var pieces: [UnsafeRawBufferPointer] = []
            for (range, buffer) in zip(ranges, buffers) {
                let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<max(0, min(pieceSize, range.length - done))])
                if !piece.isEmpty { try range.read(piece, done) }
                pieces.append(UnsafeRawBufferPointer(piece))
            }
            var hashed = [Int](repeating: 0, count: pieces.count)
            if pieces.count == 2 {
                hashed[0] = min(pieces[0].count, pieces[1].count) / 64
                hashed[1] = hashed[0]
                var (first, second) = (states[0], states[1])
                csha256_blocks_pair(&first, bytes(pieces[0]), &second, bytes(pieces[1]), hashed[0])
                (states[0], states[1]) = (first, second)
            }
            for index in pieces.indices where digests[index] == nil {
                let blocks = pieces[index].count / 64
                if blocks > hashed[index], let base = bytes(pieces[index]) {
                    csha256_blocks(&states[index], base + 64 * hashed[index], blocks - hashed[index])
                }
                if done + pieces[index].count == ranges[index].length {
                    var digest = [UInt8](repeating: 0, count: 32)
                    csha256_end(&states[index], bytes(pieces[index]).map { $0 + 64 * blocks }, pieces[index].count % 64, UInt64(ranges[index].length), &digest)
                    digests[index] = Digest(bytes: digest)
                }
            }
            done += pieceSize
        } while digests.contains(nil)
        return digests.compactMap { $0 }
    }

    private static func hashAlone(_ range: Range, through buffer: UnsafeMutableRawBufferPointer) throws -> Digest {
        var hasher = SHA256Hasher()
        var done = 0
        while done < range.length {
            let piece = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<min(buffer.count, range.length - done)])
            try range.read(piece, done)
            hasher.update(UnsafeRawBufferPointer(piece))
            done += piece.count
        }
        return hasher.finalize()
    }

    /// Nil for an empty piece, which the C side never reads.
    private static func bytes(_ piece: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
        piece.baseAddress?.assumingMemoryBound(to: UInt8.self)
    }
}
