import MantaStore
import MantaTestSupport
import MantaTransfer
import Testing

/// In simulated time: the limiter sleeps on a `ManualClock` that moves as soon as it sleeps.
@Suite(.threadsOfItsOwn) struct RateLimiterTimingTests {
    @Test func aSustainedTransferHoldsTheRate() async throws {
        let rate: UInt64 = 20_000_000
        let clock = ManualClock()
        let limiter = RateLimiter(bytesPerSecond: rate, clock: clock)
        let block = 256 * 1024
        let blocks = 120
        try await clock.run {
            for _ in 0..<blocks { try await limiter.acquire(block) }
        }
        let seconds = clock.now.offset.inSeconds
        let expected = (Double(block * blocks) - Double(rate) / 4) / Double(rate)
        #expect(abs(seconds - expected) <= expected * 0.01, "\(seconds) s, expected \(expected) s")
    }

    @Test func aReadPassesBeforeAPreheatBacklogAndBothTogetherHoldTheRate() async throws {
        let rate: UInt64 = 10_000_000
        let clock = ManualClock()
        let limiter = RateLimiter(bytesPerSecond: rate, clock: clock)
        let read = try await clock.run {
            // Two seconds of preheat queued up at once (20 transfers in flight), then a reader asks for a quarter second's worth.
            try await withThrowingTaskGroup(of: Duration?.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await limiter.acquire(1_000_000, priority: .preheat)
                        return nil
                    }
                }
                group.addTask {
                    try await clock.sleep(for: .milliseconds(100))
                    let asked = clock.now
                    try await limiter.acquire(2_500_000, priority: .read)
                    return asked.duration(to: clock.now)
                }
                return try await group.reduce(into: Duration?.none) { read, waited in read = read ?? waited }
            }
        }
        #expect(try #require(read) < .milliseconds(500), "the read waited behind the preheat backlog")
        let expected = Duration.seconds(Double(22_500_000 - Int(rate) / 4) / Double(rate))
        #expect(clock.now.offset >= expected * 0.9, "preheat and read together took \(clock.now.offset), expected about \(expected)")
    }

    @Test(arguments: [("50MB/s", 50_000_000), ("25MiB/s", 26_214_400), ("1000", 1000), ("1.5GB/s", 1_500_000_000)])
    func ratesParse(text: String, bytes: UInt64) {
        #expect(RateLimiter.parseRate(text) == bytes)
    }

    @Test(arguments: ["", "fast", "-5MB/s", "0"])
    func badRatesAreRejected(text: String) {
        #expect(RateLimiter.parseRate(text) == nil)
    }
}
