import MantaStore
import MantaTransfer
import Testing

/// Clock-based: meaningful only when nothing else runs beside it, as in scripts/test.sh.
@Suite(.serialized) struct RateLimiterTimingTests {
    @Test func aSustainedTransferHoldsTheRateWithinTenPercent() async throws {
        let rate: UInt64 = 20_000_000
        let limiter = RateLimiter(bytesPerSecond: rate)
        let block = 256 * 1024
        let blocks = 120
        let clock = ContinuousClock()
        let elapsed = try await clock.measure {
            for _ in 0..<blocks { try await limiter.acquire(block) }
        }
        let seconds = elapsed.inSeconds
        let expected = (Double(block * blocks) - Double(rate) / 4) / Double(rate)
        #expect(abs(seconds - expected) <= expected * 0.1, "\(seconds) s, expected \(expected) s")
    }

    @Test func aReadPassesBeforeAPreheatBacklogAndBothTogetherHoldTheRate() async throws {
        let rate: UInt64 = 10_000_000
        let limiter = RateLimiter(bytesPerSecond: rate)
        let clock = ContinuousClock()
        let started = clock.now
        // Two seconds of preheat queued up at once (20 transfers in flight), then a reader asks for a quarter second's worth.
        let preheat = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<20 { group.addTask { try await limiter.acquire(1_000_000, priority: .preheat) } }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .milliseconds(100))
        let read = try await clock.measure { try await limiter.acquire(2_500_000, priority: .read) }
        #expect(read < .milliseconds(500), "the read waited \(read) behind the preheat backlog")
        try await preheat.value
        let total = clock.now - started
        let expected = Duration.seconds(Double(22_500_000 - Int(rate) / 4) / Double(rate))
        #expect(total >= expected * 0.9, "preheat and read together took \(total), expected about \(expected)")
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
