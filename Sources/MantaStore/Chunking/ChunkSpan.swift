/// A byte range of one file that forms one chunk.
public struct ChunkSpan: Hashable, Sendable, Codable {
    public var offset: UInt64
    public var length: UInt64

    public init(offset: UInt64, length: UInt64) {
        self.offset = offset
        self.length = length
    }

    public var end: UInt64 { offset + length }

    /// The index of the span holding byte `offset` among `count` consecutive spans (`span(i)` gives the i-th),
    /// by binary search.
    public static func index(containing offset: UInt64, count: Int, span: (Int) -> ChunkSpan) -> Int? {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if span(middle).end <= offset { low = middle + 1 } else { high = middle }
        }
        return low < count && span(low).offset <= offset ? low : nil
    }
}

/// How a file was cut into chunks.
public enum ChunkingScheme: String, Sendable, Codable, CaseIterable {
    /// Header chunk, then chunks aligned to tensor starts.
    case safetensors
    /// Header and tensor-info chunk, then chunks aligned to tensor starts.
    case gguf
    /// Fixed-size blocks from offset 0.
    case fixed
}

public struct ChunkingParameters: Hashable, Sendable, Codable {
    public static let defaultTargetSize: UInt64 = 4 << 20

    /// The size that data chunks aim for; no chunk is larger except where padding attaches to a tensor.
    public var targetSize: UInt64

    /// Clamped to 4 KiB...`ChunkEncoding.maximumChunkSize`: no store takes a larger chunk, and a target that
    /// large would overflow the arithmetic of cutting a file into blocks.
    public init(targetSize: UInt64 = ChunkingParameters.defaultTargetSize) {
        self.targetSize = min(max(targetSize, 4096), UInt64(ChunkEncoding.maximumChunkSize))
    }
}

/// The chunk layout of one file, computed from its header and size alone.
public struct ChunkPlan: Hashable, Sendable {
    public var scheme: ChunkingScheme
    public var spans: [ChunkSpan]
    /// Why a structured format fell back to fixed blocks, if it did.
    public var warning: String?
}

extension ChunkPlan {
    /// Whether the spans cover a file of `size` bytes in order, without gaps or overlaps.
    func tiles(_ size: UInt64) -> Bool {
        var end: UInt64 = 0
        for span in spans {
            guard span.offset == end else { return false }
            end = span.end
        }
        return end == size
    }
}
