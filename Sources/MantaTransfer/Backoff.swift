/// Exponential backoff between retries: `initial`, doubled each time, capped at `maximum`.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    private var attempts = 0

    public init(initial: Duration = .milliseconds(200), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
    }

    /// The wait after one more failure.
    public mutating func next() -> Duration {
        attempts += 1
        return delay(afterAttempt: attempts)
    }

    public mutating func reset() {
        attempts = 0
    }

    /// The wait after failed attempt `attempt` (counting from 1), without state: `initial` doubled `attempt - 1`
    /// times, at most `maximum`. The doubling stops at 2^30, far past any maximum, so no count overflows.
    public func delay(afterAttempt attempt: Int) -> Duration {
        min(initial * (1 << min(max(attempt - 1, 0), 30)), maximum)
    }
}
