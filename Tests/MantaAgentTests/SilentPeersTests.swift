import MantaPeer
import MantaTestSupport
import MantaTransfer
import Synchronization
import Testing

@testable import MantaAgent

@Suite(.threadsOfItsOwn) struct SilentPeersTests {
    @Test func aPeerThatGaveNoAnswerIsLeftOutOfTheRoundsUntilItAnswersItsProbe() async throws {
        let clock = ManualClock()
        let answers = Atomic<Bool>(false)
        let probes = Atomic<Int>(0)
        let silent = SilentPeers(probeInterval: .milliseconds(200), clock: AnyClock(clock)) { _ in
            probes.add(1, ordering: .relaxed)
            return answers.load(ordering: .relaxed)
        }
        let (here, gone) = (PeerAddress(host: "127.0.0.1", port: 1), PeerAddress(host: "127.0.0.1", port: 2))
        silent.record(asked: [here, gone], answered: [here])
        #expect(silent.toAsk([here, gone]) == [here])

        // Time moves until the probe has asked twice, in vain; then the peer answers, and the rounds ask it again.
        func advanceUntil(_ done: () -> Bool) async throws -> Bool {
            for _ in 0..<500 where !done() {
                clock.advance(by: .milliseconds(200))
                try await Task.sleep(for: .milliseconds(5))
            }
            return done()
        }
        #expect(try await advanceUntil { probes.load(ordering: .relaxed) >= 2 })
        #expect(silent.toAsk([here, gone]) == [here])
        answers.store(true, ordering: .relaxed)
        #expect(try await advanceUntil { silent.toAsk([here, gone]) == [here, gone] })
    }
}
