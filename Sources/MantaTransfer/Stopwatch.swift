/// Time since a start, read through an injected clock: code that measures waits takes `some Clock<Duration>`,
/// so that a simulation or a test moves its time (`ManualClock`) instead of waiting for it.
public struct Stopwatch: Sendable {
    private let read: @Sendable () -> Duration

    public init(_ clock: some Clock<Duration>) {
        let start = clock.now
        read = { start.duration(to: clock.now) }
    }

    /// Time since the stopwatch was made.
    public var elapsed: Duration { read() }
}
