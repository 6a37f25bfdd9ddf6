import MantaStore
import Synchronization

/// A token bucket shared by every transfer in one direction: `acquire(n)` returns once `n` bytes may pass.
/// Up to `burst` worth of rate passes at once, so short transfers are not delayed and long ones hold the rate.
/// Reads a reader is blocked on go first: they wait only behind other reads, and the bytes they take push
/// preheat transfers back, so together they still hold the rate.
public final class RateLimiter: Sendable {
    public let bytesPerSecond: UInt64
    private let burst: Double
    private let state: Mutex<Buckets>
    private let clock: Stopwatch

    private struct Buckets {
        /// Every transfer takes from this one; preheats wait on it.
        var all: Double
        /// Only reads take from this one; reads wait on it.
        var reads: Double
        /// Bytes reads have taken so far: preheats waiting meanwhile wait for them too.
        var readBytes: Double = 0
        /// When the buckets were last refilled, on the limiter's clock.
        var updated: Duration = .zero
    }

    public init(bytesPerSecond: UInt64, burst: Duration = .milliseconds(250), clock: some Clock<Duration> = ContinuousClock()) {
        self.bytesPerSecond = max(bytesPerSecond, 1)
        self.burst = Double(self.bytesPerSecond) * burst.inSeconds
        state = Mutex(Buckets(all: self.burst, reads: self.burst))
        self.clock = Stopwatch(clock)
    }

    /// Takes `bytes` tokens, waiting as long as the debt they leave needs to be repaid. A preheat that is
    /// waiting while reads pass waits that much longer, so the reads do not add to the rate.
    public func acquire(_ bytes: Int, priority: FetchPriority = .preheat) async throws {
        var (wait, readBytesSeen) = state.withLock { buckets -> (Double, Double) in
            refill(&buckets)
            buckets.all -= Double(bytes)
            switch priority {
            case .preheat:
                return (buckets.all < 0 ? -buckets.all / Double(bytesPerSecond) : 0, buckets.readBytes)
            case .read:
                buckets.reads -= Double(bytes)
                buckets.readBytes += Double(bytes)
                return (buckets.reads < 0 ? -buckets.reads / Double(bytesPerSecond) : 0, 0)
            }
        }
        while wait > 0 {
            try await clock.sleep(for: .milliseconds(Int(wait * 1000)))
            guard priority == .preheat else { return }
            let readBytes = state.withLock { $0.readBytes }
            wait = (readBytes - readBytesSeen) / Double(bytesPerSecond)
            readBytesSeen = readBytes
        }
    }

    private func refill(_ buckets: inout Buckets) {
        let now = clock.elapsed
        let refill = (now - buckets.updated).inSeconds * Double(bytesPerSecond)
        buckets.all = min(burst, buckets.all + refill)
        buckets.reads = min(burst, buckets.reads + refill)
        buckets.updated = now
    }
}

extension RateLimiter {
    /// Parses `50MB/s`, `25MiB/s`, `1000000` (bytes per second).
    public convenience init?(parsing text: String) {
        guard let rate = Self.parseRate(text) else { return nil }
        self.init(bytesPerSecond: rate)
    }

    public static func parseRate(_ text: String) -> UInt64? {
        var number = text.hasSuffix("/s") ? String(text.dropLast(2)) : text
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 0x1p20), ("GiB", 0x1p30), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("B", 1)]
        var scale = 1.0
        if let unit = units.first(where: { number.hasSuffix($0.0) }) {
            number = String(number.dropLast(unit.0.count))
            scale = unit.1
        }
        guard let value = Double(number), value > 0, value * scale < 1e15 else { return nil }
        return UInt64(value * scale)
    }
}
