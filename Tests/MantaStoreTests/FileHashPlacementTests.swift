import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct FileHashPlacementTests {
    static let mebibytes: UInt64 = 1 << 20

    @Test func oneLargeFileGetsItsOwnThreadWherePairingSavesLittle() {
        #expect(FileHashPlacement.choose(sizes: [87 * Self.mebibytes, 4 * Self.mebibytes], lanes: 2, pairCost: 1.75) == .ownThread)
        #expect(FileHashPlacement.choose(sizes: [87 * Self.mebibytes], lanes: 8, pairCost: 1.5) == .ownThread)
    }

    @Test func oneLargeFileKeepsItsOnePassWherePairingIsCheap() {
        #expect(FileHashPlacement.choose(sizes: [87 * Self.mebibytes], lanes: 2, pairCost: 1.17) == .onePass)
    }

    @Test func asManyLargeFilesAsCoresKeepTheOnePassThatCostsTheLeastCPU() {
        let shards = [UInt64](repeating: 512 * Self.mebibytes, count: 2)
        #expect(FileHashPlacement.choose(sizes: shards, lanes: 2, pairCost: 1.75) == .onePass)
        #expect(FileHashPlacement.choose(sizes: shards + shards, lanes: 2, pairCost: 2) == .onePass)
    }

    @Test func oneCoreOrNoNewFileAlwaysMeansOnePass() {
        #expect(FileHashPlacement.choose(sizes: [87 * Self.mebibytes], lanes: 1, pairCost: 2) == .onePass)
        #expect(FileHashPlacement.choose(sizes: [], lanes: 4, pairCost: 2) == .onePass)
        #expect(FileHashPlacement.choose(sizes: [87 * Self.mebibytes], lanes: 1) == .onePass)
    }

    @Test func theMeasuredPairCostLiesBetweenOneMessageAndTwoWithRoomForNoise() {
        #expect((0.8...2.6).contains(HashCosts.measured.pair))
    }
}
