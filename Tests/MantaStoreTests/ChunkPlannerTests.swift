import Foundation
import MantaTestSupport
import Testing

@testable import MantaStore

@Suite(.threadsOfItsOwn) struct ChunkPlannerTests {
    let parameters = ChunkingParameters(targetSize: 64 << 10)

    /// A safetensors file with the given tensor sizes, in order, after a header with `metadata`.
    static func safetensors(_ sizes: [Int], metadata: String = "x") -> [UInt8] {
        var entries = ["\"__metadata__\":{\"note\":\"\(metadata)\"}"]
        var offset = 0
        for (index, size) in sizes.enumerated() {
            entries.append("\"t\(index)\":{\"dtype\":\"BF16\",\"shape\":[\(size / 2)],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        let json = Array("{\(entries.joined(separator: ","))}".utf8)
        var file = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
        for (index, size) in sizes.enumerated() {
            file += (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
        }
        return file
    }

    func plan(_ path: String, _ bytes: [UInt8]) -> ChunkPlan {
        ChunkPlanner.plan(path: path, fileSize: UInt64(bytes.count), parameters: parameters) { Array(bytes.prefix($0)) }
    }

    func assertTiles(_ plan: ChunkPlan, size: Int) {
        var expected: UInt64 = 0
        for span in plan.spans {
            #expect(span.offset == expected)
            #expect(span.length > 0)
            expected = span.end
        }
        #expect(expected == UInt64(size))
    }

    @Test func safetensorsHeaderIsItsOwnChunkAndLargeTensorsSplitFromTheirStart() {
        let file = Self.safetensors([150_000, 1000, 2000, 70_000])
        let plan = plan("model.safetensors", file)
        #expect(plan.scheme == .safetensors)
        #expect(plan.warning == nil)
        assertTiles(plan, size: file.count)
        let headerLength = Int(file[0]) | Int(file[1]) << 8
        #expect(plan.spans[0] == ChunkSpan(offset: 0, length: UInt64(8 + headerLength)))
        let dataStart = UInt64(8 + headerLength)
        #expect(plan.spans[1] == ChunkSpan(offset: dataStart, length: 65_536))
        #expect(plan.spans[2] == ChunkSpan(offset: dataStart + 65_536, length: 65_536))
        #expect(plan.spans[3] == ChunkSpan(offset: dataStart + 131_072, length: 150_000 - 131_072))
    }

    @Test func aLongerHeaderLeavesEveryDataChunkIdentical() {
        let sizes = [300_000, 4000, 4000, 9000, 120_000, 500, 500, 80_000]
        let original = Self.safetensors(sizes)
        let edited = Self.safetensors(sizes, metadata: String(repeating: "y", count: 777))
        func dataChunks(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
            plan("a.safetensors", bytes).spans.dropFirst().map { bytes[Int($0.offset)..<Int($0.end)] }
        }
        #expect(dataChunks(original) == dataChunks(edited))
    }

    @Test func changingOneSmallTensorRegroupsOnlyItsOwnRun() {
        var sizes = Array(repeating: 3000, count: 200)
        let before = plan("m.safetensors", Self.safetensors(sizes)).spans.dropFirst()
        sizes[100] = 5000
        let after = plan("m.safetensors", Self.safetensors(sizes)).spans.dropFirst()
        let lengthsBefore = before.map(\.length)
        let lengthsAfter = after.map(\.length)
        let changed = zip(lengthsBefore, lengthsAfter).filter { $0 != $1 }.count
        #expect(lengthsBefore.count == lengthsAfter.count)
        #expect(changed <= 2)
    }

    static let malformedFiles: [(String, [UInt8])] = {
        let eightByteLength: (UInt64) -> [UInt8] = { value in withUnsafeBytes(of: value.littleEndian) { Array($0) } }
        var cases: [(String, [UInt8])] = []
        cases.append(("truncated length", [0, 0, 0, 0]))
        cases.append(("zero length", [UInt8](repeating: 0, count: 64)))
        cases.append(("length past the end", eightByteLength(65_535) + [UInt8](repeating: 32, count: 100)))
        cases.append(("invalid JSON", eightByteLength(5) + Array("{nope".utf8) + [UInt8](repeating: 0, count: 100)))
        cases.append(
            ("offsets out of bounds", safetensorsWithRawHeader(#"{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,999999]}}"#, dataSize: 100)))
        cases.append(
            ("overlapping tensors", safetensorsWithRawHeader(#"{"a":{"data_offsets":[0,60]},"b":{"data_offsets":[50,100]}}"#, dataSize: 100)))
        cases.append(("offsets not numbers", safetensorsWithRawHeader(#"{"a":{"data_offsets":["0",10]}}"#, dataSize: 100)))
        cases.append(("negative offsets", safetensorsWithRawHeader(#"{"a":{"data_offsets":[-1,10]}}"#, dataSize: 100)))
        cases.append(("one offset", safetensorsWithRawHeader(#"{"a":{"data_offsets":[10]}}"#, dataSize: 100)))
        cases.append(("fractional offsets", safetensorsWithRawHeader(#"{"a":{"data_offsets":[0,10.5]}}"#, dataSize: 100)))
        cases.append(("tensor entry not an object", safetensorsWithRawHeader(#"{"a":5}"#, dataSize: 100)))
        cases.append(("JSON not an object", safetensorsWithRawHeader(#"[1,2]"#, dataSize: 100)))
        return cases
    }()

    @Test(arguments: malformedFiles)
    func malformedSafetensorsFallsBackToFixedBlocksWithAWarning(_ name: String, _ bytes: [UInt8]) {
        let plan = plan("bad.safetensors", bytes)
        #expect(plan.scheme == .fixed, "\(name)")
        #expect(plan.warning?.contains("malformed") == true, "\(name)")
        assertTiles(plan, size: bytes.count)
    }

    static func safetensorsWithRawHeader(_ json: String, dataSize: Int) -> [UInt8] {
        let header = Array(json.utf8)
        return withUnsafeBytes(of: UInt64(header.count).littleEndian) { Array($0) } + header + Array(repeating: 7, count: dataSize)
    }

    @Test func otherFilesAreFixedBlocksFromOffsetZero() {
        let bytes = [UInt8](repeating: 1, count: 200_000)
        let plan = plan("tokenizer.json", bytes)
        #expect(plan.scheme == .fixed)
        #expect(plan.spans.map(\.length) == [65_536, 65_536, 65_536, 200_000 - 3 * 65_536])
        #expect(self.plan("empty.txt", []).spans.isEmpty)
    }

    @Test func aHeaderLargerThanTheFirstReadAsksForMore() {
        let file = Self.safetensors([100], metadata: String(repeating: "z", count: 3000))
        let step = ChunkPlanner.plan(path: "a.safetensors", fileSize: UInt64(file.count), prefix: Array(file.prefix(100)), parameters: parameters)
        guard case .needHeader(let bytes) = step else {
            Issue.record("expected a request for more header, got \(step)")
            return
        }
        #expect(bytes == file.count - 100)
    }

    @Test func ggufChunksStartAtTheAlignedDataAndTensorStarts() throws {
        let path = try TestFixturesForStore.ggufPath()
        let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: path)))
        let plan = ChunkPlanner.plan(path: path, fileSize: UInt64(bytes.count), parameters: ChunkingParameters()) { Array(bytes.prefix($0)) }
        #expect(plan.scheme == .gguf)
        #expect(plan.warning == nil)
        assertTiles(plan, size: bytes.count)
        #expect(plan.spans[0].length % 32 == 0)
    }

    @Test func truncatedGGUFFallsBackToFixedBlocks() throws {
        let bytes = Array("GGUF".utf8) + [3, 0, 0, 0] + [5, 0, 0, 0, 0, 0, 0, 0] + [1, 0, 0, 0, 0, 0, 0, 0] + [200, 0, 0, 0, 0, 0, 0, 0]
        let plan = plan("x.gguf", bytes)
        #expect(plan.scheme == .fixed)
        #expect(plan.warning != nil)
    }

    @Test func manifestFindsTheChunkHoldingAnOffset() {
        let id = SHA256Hasher.hash([1])
        let file = Manifest.File(
            path: "a", size: 30, sha256: id, scheme: .fixed,
            chunks: [
                .init(offset: 0, length: 10, id: id), .init(offset: 10, length: 10, id: id), .init(offset: 20, length: 10, id: id),
            ])
        #expect(file.chunkIndex(containing: 0) == 0)
        #expect(file.chunkIndex(containing: 9) == 0)
        #expect(file.chunkIndex(containing: 10) == 1)
        #expect(file.chunkIndex(containing: 29) == 2)
        #expect(file.chunkIndex(containing: 30) == nil)
    }
}
