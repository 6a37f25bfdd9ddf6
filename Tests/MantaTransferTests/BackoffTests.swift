import MantaTestSupport
import MantaTransfer
import Testing

@Suite(.threadsOfItsOwn) struct BackoffTests {
    @Test func delaysDoubleFromTheInitialUpToTheMaximumAndStartOverAfterAReset() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        #expect(
            (0..<6).map { _ in backoff.next() } == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1),
            ])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(100))
    }

    @Test func aHugeAttemptCountStaysAtTheMaximum() {
        let backoff = Backoff(initial: .milliseconds(500), maximum: .seconds(30))
        #expect(backoff.delay(afterAttempt: .max) == .seconds(30))
        #expect(backoff.delay(afterAttempt: 0) == .milliseconds(500))
    }
}
