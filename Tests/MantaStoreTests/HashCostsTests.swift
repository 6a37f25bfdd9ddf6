import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct HashCostsTests {
    @Test func sixteenAtOnceStartsWhereEnoughRangesOutrunTheirPairs() {
        // Intel here: sixteen cost 8 single messages, a pair 1.75, so ten ranges (8 < 10 / 2 * 1.75) beat pairs.
        #expect(HashCosts(pair: 1.75, sixteen: 8).sixteenFrom == 10)
        #expect(HashCosts(pair: 2, sixteen: 2).sixteenFrom == 3)
    }

    @Test func sixteenAtOnceIsNeverChosenWherePairsAreCheaperPerMessageOrTheCPULacksAVX512() {
        #expect(HashCosts(pair: 1.17, sixteen: 9.5).sixteenFrom == nil)
        #expect(HashCosts(pair: 1.75, sixteen: nil).sixteenFrom == nil)
    }

    @Test func theMeasuredSixteenCostLiesBetweenAPairsAndSixteenMessagesOneAfterAnother() {
        guard let sixteen = HashCosts.measured.sixteen else { return }
        #expect((1.5...20).contains(sixteen))
    }
}
