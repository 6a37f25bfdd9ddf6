/// Any `Clock<Duration>` behind one concrete type, so that a configuration can hold the clock it was given: with
/// Foundation imported, Swift does not open an `any Clock<Duration>` for a `some Clock<Duration>` parameter.
public struct AnyClock: Clock {
    /// Time since the clock was wrapped.
    public typealias Instant = ManualClock.Instant

    private let stopwatch: Stopwatch

    public init(_ clock: some Clock<Duration>) {
        stopwatch = Stopwatch(clock)
    }

    public var now: Instant { Instant(offset: stopwatch.elapsed) }
    public var minimumResolution: Duration { .nanoseconds(1) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await stopwatch.sleep(until: deadline.offset)
    }
}
