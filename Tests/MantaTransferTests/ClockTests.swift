import MantaTestSupport
import MantaTransfer
import Testing

@Suite struct ClockTests {
    @Test func anyClockReadsAndSleepsOnTheClockItWraps() async throws {
        let manual = ManualClock()
        manual.advance(by: .seconds(5))
        let clock = AnyClock(manual)
        #expect(clock.now.offset == .zero, "its time starts when it is made")
        let sleeping = Task { try await clock.sleep(for: .seconds(3)) }
        try await eventually("the sleep waits on the wrapped clock") { manual.nextDeadline?.offset == .seconds(8) }
        manual.advance(by: .seconds(3))
        try await sleeping.value
        #expect(clock.now.offset == .seconds(3))
    }

    @Test func testsRunSideBySideWithABoundEvenUnderAPlainSwiftTest() {
        #expect(TestParallelism.width >= 1, "SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH is set before Swift Testing reads it")
    }
}
