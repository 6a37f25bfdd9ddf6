/// How a hub pull groups pending chunks into ranged requests: runs of consecutive chunks of about `target` bytes,
/// so that every stream has work until the end. `PullSession` fetches by them; the swarm simulator plans its
/// simulated hub pulls with them.
public enum PullSegments {
    /// Large files are split into ranges of consecutive chunks of at most this size, fetched in parallel.
    public static let maximumBytes: UInt64 = 32 << 20

    /// The bytes a segment holds when `remaining` bytes are fetched by `streams` streams.
    public static func target(remaining: UInt64, chunkSize: UInt64, streams: Int) -> UInt64 {
        min(maximumBytes, max(chunkSize, remaining / UInt64(2 * streams)))
    }

    /// `indices` (ascending) cut into runs of consecutive indices of at most `target` bytes (a run holds at least one).
    public static func runs(of indices: [Int], target: UInt64, length: (Int) -> UInt64) -> [[Int]] {
        var runs: [[Int]] = []
        var current: [Int] = []
        var bytes: UInt64 = 0
        for index in indices {
            let size = length(index)
            if let last = current.last, last + 1 != index || bytes + size > target {
                runs.append(current)
                current = []
                bytes = 0
            }
            current.append(index)
            bytes += size
        }
        if !current.isEmpty { runs.append(current) }
        return runs
    }
}
