import Testing
import MantaStore

/// Timing suites run alone, after everything else (see scripts/test.sh): on two cores the parallel suites
/// starve the cooperative pool and would make any clock-based expectation meaningless.
@Suite(.serialized) struct TimingRateLimiterTests {
    @Test func aSustainedTransferHoldsTheRateWithinTenPercent() async throws {
        let rate: UInt64 = 20_000_000
        let limiter = RateLimiter(bytesPerSecond: rate)
        let block = 256 * 1024
        let blocks = 120
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for _ in 0..<blocks { try await limiter.acquire(block) }
        }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let expected = (Double(block * blocks) - Double(rate) / 4) / Double(rate)
        #expect(abs(seconds - expected) <= expected * 0.1, "\(seconds) s, expected \(expected) s")
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
