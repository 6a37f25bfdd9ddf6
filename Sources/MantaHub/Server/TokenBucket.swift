import Synchronization

/// A rate limit shared by every response of a server (generic cell rate algorithm): each send books its
/// time slot at `rate`, and waits for it unless it falls within the allowed burst.
final class TokenBucket: Sendable {
    let bytesPerSecond: Int
    private let burst: Duration
    private let theoreticalArrival = Mutex(ContinuousClock.now)

    init(bytesPerSecond: Int, burst: Duration = .milliseconds(50)) {
        precondition(bytesPerSecond > 0, "a rate limit must be positive")
        self.bytesPerSecond = bytesPerSecond
        self.burst = burst
    }

    func consume(_ bytes: Int) async throws {
        let cost = Duration.nanoseconds(Int64((Double(bytes) / Double(bytesPerSecond) * 1e9).rounded(.up)))
        let wait = theoreticalArrival.withLock { arrival in
            let now = ContinuousClock.now
            arrival = max(arrival, now) + cost
            return arrival - now - burst
        }
        if wait > .zero { try await Task.sleep(for: wait) }
    }
}
