import MantaStore
import MantaTestSupport
import Testing

@Suite(.threadsOfItsOwn) struct DurationUnitsTests {
    @Test func durationsConvertToSecondsAndWholeUnits() {
        let duration = Duration.milliseconds(1_500) + .nanoseconds(7)
        #expect(abs(duration.inSeconds - 1.500000007) < 1e-12)
        #expect(duration.wholeNanoseconds == 1_500_000_007)
        #expect(duration.wholeMilliseconds == 1_500)
        #expect(Duration.milliseconds(-1_500).wholeMilliseconds == -1_500)
    }

    @Test func aDurationPastWhatAnInt64HoldsSaturatesInsteadOfTrapping() {
        #expect(Duration.seconds(Int64.max).wholeNanoseconds == .max)
        #expect(Duration.seconds(Int64.min).wholeNanoseconds == .min)
        #expect(Duration.seconds(Int64.max).wholeMilliseconds == .max)
    }
}
