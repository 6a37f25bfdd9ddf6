/// Computes chunk layouts. A pure function of (file name, header bytes, file size, parameters), so any node
/// can map an offset to a chunk before it has the file: from the local disk or from a ranged hub request.
public enum ChunkPlanner {
    public enum Step: Sendable, Equatable {
        /// The layout is known.
        case plan(ChunkPlan)
        /// The header is longer than the prefix given: call again with at least this many leading bytes.
        case needHeader(bytes: Int)
    }

    /// How many leading bytes to read first; enough for most headers in one go.
    public static let initialHeaderRead = 1 << 20

    /// How many leading bytes of a local file to read first: another read costs little, and the fresh memory of
    /// a larger buffer costs more than the read (a typical safetensors header is 10–100 KiB).
    static let localHeaderRead = 64 << 10

    /// Headers above this size are treated as malformed rather than read into memory.
    public static let maximumHeaderSize = 100 << 20

    /// Plans `path` given the first `prefix.count` bytes of the file (or all of them if shorter).
    public static func plan(path: String, fileSize: UInt64, prefix: [UInt8], parameters: ChunkingParameters) -> Step {
        switch format(of: path) {
        case .safetensors:
            return structured(.safetensors, fileSize: fileSize, parameters: parameters) { () throws(HeaderError) in
                try SafetensorsHeader.dataLayout(prefix: prefix, fileSize: fileSize)
            }
        case .gguf:
            return structured(.gguf, fileSize: fileSize, parameters: parameters) { () throws(HeaderError) in
                try GGUFHeader.dataLayout(prefix: prefix, fileSize: fileSize)
            }
        case .fixed:
            return .plan(ChunkPlan(scheme: .fixed, spans: fixedBlocks(from: 0, to: fileSize, size: parameters.targetSize)))
        }
    }

    /// The scheme a file's name asks for: a structured format is planned from its header, if that is valid.
    static func format(of path: String) -> ChunkingScheme {
        let lower = path.lowercased()
        if lower.hasSuffix(".safetensors") { return .safetensors }
        if lower.hasSuffix(".gguf") { return .gguf }
        return .fixed
    }

    /// Plans a local file by reading as much of its header as the format needs: none for fixed blocks.
    public static func plan(path: String, fileSize: UInt64, parameters: ChunkingParameters, read: (Int) throws -> [UInt8]) rethrows -> ChunkPlan {
        var length = format(of: path) == .fixed ? 0 : Int(min(UInt64(localHeaderRead), fileSize))
        while true {
            switch plan(path: path, fileSize: fileSize, prefix: try read(length), parameters: parameters) {
            case .plan(let plan): return plan
            case .needHeader(let bytes): length = bytes
            }
        }
    }

    private static func structured(
        _ scheme: ChunkingScheme,
        fileSize: UInt64,
        parameters: ChunkingParameters,
        layout: () throws(HeaderError) -> DataLayout
    ) -> Step {
        do {
            let data = try layout()
            return .plan(ChunkPlan(scheme: scheme, spans: pack(data, fileSize: fileSize, targetSize: parameters.targetSize)))
        } catch .truncatedPrefix(let needed) {
            return .needHeader(bytes: needed)
        } catch {
            let fallback = fixedBlocks(from: 0, to: fileSize, size: parameters.targetSize)
            return .plan(
                ChunkPlan(
                    scheme: .fixed, spans: fallback,
                    warning: "\(scheme.rawValue) header is malformed (\(error)); using fixed \(parameters.targetSize)-byte blocks"))
        }
    }

    static func fixedBlocks(from start: UInt64, to end: UInt64, size: UInt64) -> [ChunkSpan] {
        stride(from: start, to: end, by: Int(size)).map { ChunkSpan(offset: $0, length: min(size, end - $0)) }
    }

    /// Header as one chunk; each tensor of at least the target size cut at fixed offsets from its own start;
    /// runs of smaller tensors packed together. A run ends where the next tensor would overflow the target
    /// or where the next tensor is an anchor. Anchors depend only on a tensor's own name and size, so a
    /// changed tensor can regroup only its own run, never the rest of the file.
    static func pack(_ layout: DataLayout, fileSize: UInt64, targetSize: UInt64) -> [ChunkSpan] {
        var spans = [ChunkSpan(offset: 0, length: layout.dataStart)]
        var run: ChunkSpan?
        func closeRun() {
            if let open = run { spans.append(open) }
            run = nil
        }
        for tensor in layout.extents where tensor.length > 0 {
            if tensor.length >= targetSize {
                closeRun()
                spans += fixedBlocks(from: tensor.offset, to: tensor.end, size: targetSize)
                continue
            }
            if let open = run, open.length + tensor.length > targetSize || isAnchor(tensor, targetSize: targetSize) {
                closeRun()
            }
            let runStart = run?.offset ?? tensor.offset
            run = ChunkSpan(offset: runStart, length: tensor.end - runStart)
        }
        closeRun()
        return spans.filter { $0.length > 0 }
    }

    /// About one anchor per half target of small-tensor bytes, decided by the tensor's name.
    static func isAnchor(_ tensor: TensorExtent, targetSize: UInt64) -> Bool {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in tensor.name.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        return hash % targetSize < 2 * tensor.length
    }
}

/// Where the data region starts, and each tensor's extent within the file, in file order. Extents tile
/// the data region: padding between tensors belongs to the tensor before it.
struct DataLayout: Sendable {
    var dataStart: UInt64
    var extents: [TensorExtent]
}

struct TensorExtent: Sendable {
    var name: String
    var offset: UInt64
    var length: UInt64
    var end: UInt64 { offset + length }
}

enum HeaderError: Error, CustomStringConvertible {
    case truncatedPrefix(needed: Int)
    case malformed(String)

    var description: String {
        switch self {
        case .truncatedPrefix(let needed): "header needs \(needed) bytes"
        case .malformed(let reason): reason
        }
    }
}

extension DataLayout {
    /// Turns tensor starts (relative to `dataStart`) into extents that tile `dataStart..<fileSize`.
    init(dataStart: UInt64, fileSize: UInt64, tensorStarts: [(name: String, start: UInt64)]) throws(HeaderError) {
        guard dataStart <= fileSize else {
            throw .malformed("data starts at \(dataStart), past the end of the \(fileSize)-byte file")
        }
        let sorted = tensorStarts.sorted { $0.start < $1.start }
        var extents: [TensorExtent] = []
        extents.reserveCapacity(sorted.count + 1)
        if let first = sorted.first, first.start > 0 {
            extents.append(TensorExtent(name: "", offset: dataStart, length: first.start))
        }
        // Starts are read from the header (a GGUF offset may be any UInt64): each is bounded by what is left of
        // the file before `dataStart` is added to it.
        let dataSize = fileSize - dataStart
        for tensor in sorted where tensor.start > dataSize {
            throw .malformed("tensor '\(tensor.name)' starts at \(tensor.start) in the data region, past its end (\(dataSize) bytes)")
        }
        for (index, tensor) in sorted.enumerated() {
            let offset = dataStart + tensor.start
            let end = index + 1 < sorted.count ? dataStart + sorted[index + 1].start : fileSize
            extents.append(TensorExtent(name: tensor.name, offset: offset, length: end - offset))
        }
        if sorted.isEmpty, dataStart < fileSize {
            extents.append(TensorExtent(name: "", offset: dataStart, length: fileSize - dataStart))
        }
        self.init(dataStart: dataStart, extents: extents)
    }
}
