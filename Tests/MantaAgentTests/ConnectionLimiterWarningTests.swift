import Logging
import MantaTransfer
import NIOEmbedded
import Synchronization
import Testing

@testable import MantaServerLimits

/// The cap's warning is paced on the limiter's clock: a flood logs it once a minute, not once per connection.
@Suite struct ConnectionLimiterWarningTests {
    @Test func aFloodAtTheCapIsWarnedAboutOnceAMinuteOnTheLimitersClock() throws {
        let warnings = WarningCount()
        let clock = ManualClock()
        let limiter = ConnectionLimiter(
            limits: ServerLimits(maxConnections: 1), logger: Logger(label: "test") { _ in warnings }, clock: clock)

        for _ in 0..<10 { #expect(limiter.admit(EmbeddedChannel()) != nil, "the idle connection makes room") }
        #expect(limiter.displacedConnections == 9)
        #expect(warnings.count == 1)

        clock.advance(by: .seconds(59))
        _ = limiter.admit(EmbeddedChannel())
        #expect(warnings.count == 1, "a minute has not passed")

        clock.advance(by: .seconds(1))
        _ = limiter.admit(EmbeddedChannel())
        #expect(warnings.count == 2)
    }
}

/// Counts warnings; a log handler that keeps nothing else.
private final class WarningCount: LogHandler, @unchecked Sendable {
    private let warnings = Mutex(0)
    var count: Int { warnings.withLock { $0 } }

    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        if event.level == .warning { warnings.withLock { $0 += 1 } }
    }
}
