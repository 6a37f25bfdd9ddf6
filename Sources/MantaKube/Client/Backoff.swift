/// Exponential backoff between retries: `initial`, doubled each time, capped at `maximum`.
public struct Backoff: Sendable {
    public var initial: Duration
    public var maximum: Duration
    private var current: Duration?

    public init(initial: Duration = .milliseconds(200), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = maximum
    }

    public mutating func next() -> Duration {
        let delay = current.map { min($0 * 2, maximum) } ?? initial
        current = delay
        return delay
    }

    public mutating func reset() {
        current = nil
    }
}
