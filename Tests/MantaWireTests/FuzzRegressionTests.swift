import Foundation
import MantaFuzz
import MantaTestSupport
import Testing

/// Every input saved under `Fuzz/Regressions/<target>/` (a crash or broken invariant the fuzzer found, or one
/// written for a crash found by hand) goes through the fuzz target it was saved for, in every test run, not
/// only when scripts/fuzz.sh runs.
@Suite(.threadsOfItsOwn) struct FuzzRegressionTests {
    static let regressions = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz/Regressions")

    @Test(arguments: FuzzTarget.allCases)
    func savedFuzzFindingsNoLongerCrashOrBreakInvariants(target: FuzzTarget) throws {
        #expect(FileManager.default.fileExists(atPath: Self.regressions.path), "the saved inputs are not at \(Self.regressions.path)")
        let folder = Self.regressions.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        for name in names.sorted() {
            let bytes = try [UInt8](Data(contentsOf: folder.appendingPathComponent(name)))
            do {
                try target.run(bytes)
            } catch {
                Issue.record("Fuzz/Regressions/\(target.rawValue)/\(name): \(error)")
            }
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func everyTargetTakesEmptyAndShortInputs(target: FuzzTarget) throws {
        for length in 0..<12 {
            try target.run([UInt8](repeating: 0xFF, count: length))
        }
    }
}
