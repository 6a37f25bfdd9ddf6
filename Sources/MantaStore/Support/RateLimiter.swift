import Synchronization

/// A token bucket shared by every transfer in one direction: `acquire(n)` returns once `n` bytes may pass.
/// Up to `burst` worth of rate passes at once, so short transfers are not delayed and long ones hold the rate.
public final class RateLimiter: Sendable {
    public let bytesPerSecond: UInt64
    private let burst: Double
    private let state: Mutex<(tokens: Double, updated: ContinuousClock.Instant)>

    public init(bytesPerSecond: UInt64, burst: Duration = .milliseconds(250)) {
        self.bytesPerSecond = max(bytesPerSecond, 1)
        let burstSeconds = Double(burst.components.seconds) + Double(burst.components.attoseconds) / 1e18
        self.burst = Double(self.bytesPerSecond) * burstSeconds
        state = Mutex((self.burst, ContinuousClock.now))
    }

    /// Takes `bytes` tokens, waiting as long as the debt they leave needs to be repaid.
    public func acquire(_ bytes: Int) async throws {
        let wait = state.withLock { state -> Double in
            let now = ContinuousClock.now
            let elapsed = now - state.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state.tokens = min(burst, state.tokens + seconds * Double(bytesPerSecond))
            state.updated = now
            state.tokens -= Double(bytes)
            return state.tokens < 0 ? -state.tokens / Double(bytesPerSecond) : 0
        }
        if wait > 0 {
            try await Task.sleep(for: .milliseconds(Int(wait * 1000)))
        }
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
