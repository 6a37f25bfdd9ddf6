import MantaTestSupport
import Testing

@testable import MantaStore

/// Numbers in safetensors and GGUF headers come from the file (a hub's, a peer's, a user's): every one that would
/// overflow or run past the file makes the header malformed (fixed blocks, with a warning), never a trap.
@Suite(.threadsOfItsOwn) struct HeaderBoundsTests {
    static func le(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) } }
    static func le(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) } }
    static func string(_ text: String) -> [UInt8] { le(UInt64(text.utf8.count)) + Array(text.utf8) }

    static func gguf(tensors: UInt64, metadata: UInt64, body: [UInt8]) -> [UInt8] {
        Array("GGUF".utf8) + le(UInt32(3)) + le(tensors) + le(metadata) + body
    }

    /// The reason the header is refused, or nil when it is accepted.
    static func refusal(_ prefix: [UInt8], fileSize: UInt64, format: ChunkingScheme) -> String? {
        do {
            _ =
                try format == .gguf
                ? GGUFHeader.dataLayout(prefix: prefix, fileSize: fileSize) : SafetensorsHeader.dataLayout(prefix: prefix, fileSize: fileSize)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func aGGUFTensorOffsetNearTheTopOfUInt64IsMalformedAndTheFilePlansAsFixedBlocks() throws {
        let tensor = Self.string("t") + Self.le(UInt32(1)) + Self.le(UInt64(4)) + Self.le(UInt32(0)) + Self.le(UInt64.max - 31)
        let bytes = Self.gguf(tensors: 1, metadata: 0, body: tensor)
        let fileSize = UInt64(bytes.count + 4096)
        #expect(Self.refusal(bytes, fileSize: fileSize, format: .gguf)?.contains("past its end") == true)
        guard case .plan(let plan) = ChunkPlanner.plan(path: "model.gguf", fileSize: fileSize, prefix: bytes, parameters: ChunkingParameters()) else {
            Issue.record("the planner asked for more header")
            return
        }
        #expect(plan.scheme == .fixed)
        #expect(plan.warning?.contains("malformed") == true)
    }

    @Test func aGGUFArrayWhoseSkipWouldOverflowThePositionIsMalformed() {
        // A u64 array of UInt64.max / 8 elements in a file claiming UInt64.max bytes: the skip is within the file size,
        // but the position plus the skip wraps around.
        let array = Self.string("k") + Self.le(UInt32(9)) + Self.le(UInt32(12)) + Self.le(UInt64.max / 8)
        let bytes = Self.gguf(tensors: 0, metadata: 1, body: array)
        #expect(Self.refusal(bytes, fileSize: .max, format: .gguf)?.contains("runs past the end") == true)
    }

    @Test func implausibleGGUFCountsAndSafetensorsOffsetsAreMalformed() {
        #expect(
            Self.refusal(Self.gguf(tensors: .max, metadata: 0, body: []), fileSize: 1 << 20, format: .gguf)?.contains("implausible counts") == true)
        let json = Array(#"{"t": {"dtype": "F32", "shape": [1], "data_offsets": [0, 9223372036854775807]}}"#.utf8)
        let safetensors = Self.le(UInt64(json.count)) + json
        #expect(
            Self.refusal(safetensors, fileSize: UInt64(safetensors.count + 4), format: .safetensors)?.contains("past the 4-byte data region") == true)
        let hugeLength = Self.le(UInt64.max) + json
        #expect(Self.refusal(hugeLength, fileSize: 1 << 30, format: .safetensors)?.contains("is outside 1...") == true)
    }

    @Test func aTargetSizeAboveTheLargestChunkIsClamped() {
        #expect(ChunkingParameters(targetSize: .max).targetSize == UInt64(ChunkEncoding.maximumChunkSize))
        #expect(ChunkingParameters(targetSize: 1).targetSize == 4096)
    }
}
