/// Time since a start, read and slept on through an injected clock: code that measures or waits takes
/// `some Clock<Duration>`, so that a simulation or a test moves its time (`ManualClock`) instead of waiting for it.
public struct Stopwatch: Sendable {
    private let read: @Sendable () -> Duration
    private let sleepUntil: @Sendable (Duration) async throws -> Void

    public init(_ clock: some Clock<Duration>) {
        let start = clock.now
        read = { start.duration(to: clock.now) }
        sleepUntil = { try await clock.sleep(until: start.advanced(by: $0), tolerance: nil) }
    }

    /// Time since the stopwatch was made.
    public var elapsed: Duration { read() }

    /// Sleeps until `elapsed` reaches `deadline`.
    public func sleep(until deadline: Duration) async throws { try await sleepUntil(deadline) }

    public func sleep(for duration: Duration) async throws { try await sleepUntil(elapsed + duration) }
}
