/// The GGUF header: magic, version, counts, metadata key/values, then the tensor-info table. Tensor data
/// starts at the next multiple of `general.alignment` (32 by default) after the table.
enum GGUFHeader {
    static func dataLayout(prefix: [UInt8], fileSize: UInt64) throws(HeaderError) -> DataLayout {
        var reader = Reader(bytes: prefix, fileSize: fileSize)
        guard Array(try reader.bytes(4)) == Array("GGUF".utf8) else { throw .malformed("magic is not GGUF") }
        let version = try reader.u32()
        guard version == 2 || version == 3 else { throw .malformed("unsupported GGUF version \(version)") }
        let tensorCount = try reader.u64()
        let metadataCount = try reader.u64()
        guard tensorCount < 1 << 20, metadataCount < 1 << 20 else {
            throw .malformed("implausible counts: \(tensorCount) tensors, \(metadataCount) metadata entries")
        }
        var alignment: UInt64 = 32
        for _ in 0..<metadataCount {
            let key = try reader.string()
            let type = try reader.u32()
            if key == "general.alignment", type == 4 {
                alignment = UInt64(try reader.u32())
            } else {
                try reader.skipValue(type: type, depth: 0)
            }
        }
        guard alignment > 0, alignment.nonzeroBitCount == 1 else { throw .malformed("alignment \(alignment) is not a power of two") }
        var starts: [(name: String, start: UInt64)] = []
        for _ in 0..<tensorCount {
            let name = try reader.string()
            let dimensions = try reader.u32()
            guard dimensions <= 8 else { throw .malformed("tensor '\(name)' has \(dimensions) dimensions") }
            try reader.skip(8 * UInt64(dimensions))
            _ = try reader.u32()
            let offset = try reader.u64()
            guard offset % alignment == 0 else { throw .malformed("tensor '\(name)' offset \(offset) is not \(alignment)-aligned") }
            starts.append((name, offset))
        }
        let tableEnd = UInt64(reader.position)
        let dataStart = (tableEnd + alignment - 1) / alignment * alignment
        guard Set(starts.map(\.start)).count == starts.count else { throw .malformed("two tensors share one offset") }
        return try DataLayout(dataStart: min(dataStart, fileSize), fileSize: fileSize, tensorStarts: starts)
    }

    /// Bounds-checked little-endian reads; running out of prefix asks for a longer one, running out of file is malformed.
    struct Reader {
        let bytes: [UInt8]
        let fileSize: UInt64
        var position = 0

        init(bytes: [UInt8], fileSize: UInt64) {
            self.bytes = bytes
            self.fileSize = fileSize
        }

        /// `count` comes from the file (an array length times its width): checked against the bounds before it is added.
        mutating func need(_ count: UInt64) throws(HeaderError) {
            let (end, overflow) = UInt64(position).addingReportingOverflow(count)
            guard !overflow, end <= fileSize else { throw .malformed("header runs past the end of the \(fileSize)-byte file") }
            let limit = UInt64(ChunkPlanner.maximumHeaderSize)
            guard end <= limit else { throw .malformed("header is larger than \(ChunkPlanner.maximumHeaderSize) bytes") }
            if end > UInt64(bytes.count) {
                throw .truncatedPrefix(needed: Int(min(fileSize, limit, max(end, UInt64(bytes.count) * 2))))
            }
        }

        mutating func skip(_ count: UInt64) throws(HeaderError) {
            try need(count)
            position += Int(count)
        }

        mutating func bytes(_ count: Int) throws(HeaderError) -> ArraySlice<UInt8> {
            try need(UInt64(count))
            defer { position += count }
            return bytes[position..<position + count]
        }

        mutating func u32() throws(HeaderError) -> UInt32 {
            try bytes(4).reversed().reduce(0) { $0 << 8 | UInt32($1) }
        }

        mutating func u64() throws(HeaderError) -> UInt64 {
            try bytes(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
        }

        mutating func string() throws(HeaderError) -> String {
            let length = try u64()
            guard length < 1 << 24 else { throw .malformed("string of \(length) bytes") }
            return String(decoding: try bytes(Int(length)), as: UTF8.self)
        }

        mutating func skipValue(type: UInt32, depth: Int) throws(HeaderError) {
            switch type {
            case 0, 1, 7: try skip(1)
            case 2, 3: try skip(2)
            case 4, 5, 6: try skip(4)
            case 10, 11, 12: try skip(8)
            case 8: _ = try string()
            case 9:
                guard depth < 4 else { throw .malformed("arrays nested too deep") }
                let elementType = try u32()
                let count = try u64()
                let fixedWidth: [UInt32: UInt64] = [0: 1, 1: 1, 7: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 10: 8, 11: 8, 12: 8]
                if let width = fixedWidth[elementType] {
                    guard count <= fileSize / width else { throw .malformed("array of \(count) elements runs past the end of the file") }
                    try skip(count * width)
                } else {
                    for _ in 0..<count { try skipValue(type: elementType, depth: depth + 1) }
                }
            default: throw .malformed("unknown metadata value type \(type)")
            }
        }
    }
}
