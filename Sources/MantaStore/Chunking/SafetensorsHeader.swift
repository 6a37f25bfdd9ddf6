#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The safetensors header: an 8-byte little-endian length, then that many bytes of JSON naming each tensor's
/// `data_offsets` relative to the end of the header.
enum SafetensorsHeader {
    static func dataLayout(prefix: [UInt8], fileSize: UInt64) throws(HeaderError) -> DataLayout {
        guard fileSize >= 8 else { throw .malformed("file is \(fileSize) bytes, shorter than the 8-byte length field") }
        guard prefix.count >= 8 else { throw .truncatedPrefix(needed: 8) }
        let jsonLength = prefix[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard jsonLength > 0, jsonLength <= UInt64(ChunkPlanner.maximumHeaderSize) else {
            throw .malformed("header length \(jsonLength) is outside 1...\(ChunkPlanner.maximumHeaderSize)")
        }
        let dataStart = 8 + jsonLength
        guard dataStart <= fileSize else {
            throw .malformed("header length \(jsonLength) runs past the end of the \(fileSize)-byte file")
        }
        guard prefix.count >= Int(dataStart) else { throw .truncatedPrefix(needed: Int(dataStart)) }

        let entries: [(name: String, offsets: [Int64]?)]
        do {
            entries = try JSONDecoder().decode(HeaderJSON.self, from: Data(prefix[8..<Int(dataStart)])).tensors
        } catch DecodingError.typeMismatch {
            throw .malformed("header JSON is not an object")
        } catch {
            throw .malformed("header is not valid JSON")
        }

        let dataSize = fileSize - dataStart
        var tensors: [(name: String, start: UInt64, end: UInt64)] = []
        for (name, offsets) in entries {
            guard let offsets, offsets.count == 2, offsets[0] >= 0, offsets[1] >= offsets[0] else {
                throw .malformed("tensor '\(name)' has no valid data_offsets")
            }
            let start = UInt64(offsets[0])
            let end = UInt64(offsets[1])
            guard end <= dataSize else {
                throw .malformed("tensor '\(name)' ends at \(end), past the \(dataSize)-byte data region")
            }
            tensors.append((name, start, end))
        }
        tensors.sort { ($0.start, $0.end) < ($1.start, $1.end) }
        for (previous, next) in zip(tensors, tensors.dropFirst()) where next.start < previous.end {
            throw .malformed("tensors '\(previous.name)' and '\(next.name)' overlap")
        }
        return try DataLayout(dataStart: dataStart, fileSize: fileSize, tensorStarts: tensors.map { ($0.name, $0.start) })
    }

    /// The header's JSON object: each tensor's `data_offsets` by name, nil where they are not two integers.
    /// `__metadata__`, a map of strings, is not a tensor. (`JSONDecoder`, not `JSONSerialization`: half the time
    /// on a first use, which is what an import of one model makes.)
    private struct HeaderJSON: Decodable {
        var tensors: [(name: String, offsets: [Int64]?)]

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: StringCodingKey.self)
            tensors = container.allKeys.filter { $0.stringValue != "__metadata__" }.map { name in
                (name.stringValue, try? container.decode(Tensor.self, forKey: name).dataOffsets)
            }
        }

        private struct Tensor: Decodable {
            var dataOffsets: [Int64]

            enum CodingKeys: String, CodingKey {
                case dataOffsets = "data_offsets"
            }
        }
    }
}
