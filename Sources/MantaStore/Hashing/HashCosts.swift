import CSHA256

#if canImport(Glibc)
import Glibc
#endif

/// What hashing several messages at once on one core costs on this CPU, in times one message's cost for the same
/// blocks of each: it decides where an import's whole-file hashes go (`FileHashPlacement`) and whether `verify`
/// hashes sixteen chunks at once (`ChunkPairHasher.hashAll`). Measured once per process, over a buffer in cache.
///
/// The costs differ by core (the SHA unit's round latency, AVX-512's width), so they are measured, not assumed;
/// the figures per CPU are in benchmarks/RESULTS.md, Import.
struct HashCosts: Equatable, Sendable {
    /// Two messages hashed together: 2 without the SHA extensions, whose OpenSSL path hashes one after the other.
    let pair: Double
    /// Sixteen messages hashed together, or nil where the CPU lacks AVX-512.
    let sixteen: Double?

    /// The fewest ranges at once for which sixteen lanes (the unused ones wasted) beat hashing them in pairs, or nil
    /// where sixteen never do.
    var sixteenFrom: Int? {
        guard let sixteen, sixteen / 16 < pair / 2 else { return nil }
        return Int((2 * sixteen / pair).rounded(.down)) + 1
    }

    /// This CPU's costs, each measured the first time it is asked for: an import placing new files asks only for
    /// `measuredPair`, so it does not pay to time sixteen lanes it never uses.
    static var measured: HashCosts { HashCosts(pair: measuredPair, sixteen: measuredSixteen) }

    static let measuredPair: Double =
        ChunkPairHasher.interleaves
        ? costRelativeToOne { states, data, blocks in _ = csha256_blocks_pair(states, data[0], states + 1, data[1], blocks) } ?? 1
        : 2

    private static let measuredSixteen: Double? =
        ChunkPairHasher.interleaves && csha256_sixteen_supported() == 1
        ? costRelativeToOne { states, data, blocks in _ = csha256_blocks_sixteen(states, data, blocks) }
        : nil

    /// What hashing several messages `together` (into the sixteen `states`, from `data`) costs against one, or nil
    /// where the clock saw no time: the fastest of a few rounds over a buffer in cache, as a round the host
    /// interrupts only counts as slower.
    private static func costRelativeToOne(
        of together: (_ states: UnsafeMutablePointer<csha256_state>, _ data: [UnsafePointer<UInt8>?], _ blocks: Int) -> Void
    ) -> Double? {
        let blocks = 128
        let buffer = [UInt8](repeating: 0x5A, count: 64 * blocks)
        var states = [csha256_state](repeating: csha256_state(), count: 16)
        var single = Double.infinity
        var severalAtOnce = Double.infinity
        buffer.withUnsafeBufferPointer { bytes in
            let data = [UnsafePointer<UInt8>?](repeating: bytes.baseAddress, count: 16)
            states.withUnsafeMutableBufferPointer { states in
                guard let first = states.baseAddress else { return }
                for _ in 0..<4 {
                    single = min(single, seconds { _ = csha256_blocks(first, bytes.baseAddress, blocks) })
                    severalAtOnce = min(severalAtOnce, seconds { together(first, data, blocks) })
                }
            }
        }
        return single > 0 ? severalAtOnce / single : nil
    }

    private static func seconds(_ body: () -> Void) -> Double {
        var start = timespec()
        var end = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        body()
        clock_gettime(CLOCK_MONOTONIC, &end)
        return Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
    }
}
