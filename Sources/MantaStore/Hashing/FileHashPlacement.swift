/// Where an import computes the whole-file hashes of its new files of several chunks: paired with their chunk ids
/// in one pass per file on one core, or each on a thread of its own while the lanes hash the chunks.
///
/// One pass costs the least CPU, but a file's pass is as long as pairing two hashes over it; its own thread is
/// one hash long, and the chunk ids then cost a second. Which finishes first depends on what a pair costs on the
/// core (`HashCosts`): where the SHA unit waits on each round's latency a pair is nearly free and one pass wins;
/// where it does not, a large file finishes sooner with its hash on a thread of its own (benchmarks/RESULTS.md,
/// Import).
enum FileHashPlacement: Equatable, Sendable {
    case onePass
    case ownThread

    /// The placement expected to finish first, for new files of `sizes` bytes on `lanes` cores whose pairs cost
    /// `pairCost` times one message.
    ///
    /// The estimate of each is the longer of its longest serial hash and its work spread over the cores, the work
    /// counting the writes' copies and system calls as `writeCost` hashes per byte. It leaves out start-up, the
    /// host's steal and the waits on the disk, so the own threads are chosen only when clearly shorter: on AMD the
    /// estimate for one large file is 10% shorter there, and measured the two tie.
    static func choose(sizes: [UInt64], lanes: Int, pairCost: Double) -> FileHashPlacement {
        guard lanes > 1, let largest = sizes.max().map({ Double($0) }) else { return .onePass }
        let perLane = Double(sizes.reduce(0, +)) / Double(lanes)
        let onePass = max(pairCost * largest, (pairCost + writeCost) * perLane)
        let ownThreads = max(largest, (1 + pairCost / 2 + writeCost) * perLane)
        return ownThreads < 0.8 * onePass ? .ownThread : .onePass
    }

    /// The placement for this CPU, measured once the first time an import has new files to place.
    static func choose(sizes: [UInt64], lanes: Int) -> FileHashPlacement {
        choose(sizes: sizes, lanes: lanes, pairCost: lanes > 1 && !sizes.isEmpty ? HashCosts.measuredPair : 1)
    }

    /// Copying a new chunk into a writer's buffer and writing it, in hashes of the same bytes: the writes' share of
    /// the real model's import CPU against the hashes' (measured: benchmarks/RESULTS.md, Import).
    static let writeCost = 0.5
}
