import Foundation

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

        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(prefix[8..<Int(dataStart)]))
        } catch {
            throw .malformed("header is not valid JSON")
        }
        guard let entries = json as? [String: Any] else { throw .malformed("header JSON is not an object") }

        let dataSize = fileSize - dataStart
        var tensors: [(name: String, start: UInt64, end: UInt64)] = []
        for (name, value) in entries where name != "__metadata__" {
            guard let info = value as? [String: Any],
                  let offsets = info["data_offsets"] as? [NSNumber], offsets.count == 2,
                  offsets[0].int64Value >= 0, offsets[1].int64Value >= offsets[0].int64Value
            else { throw .malformed("tensor '\(name)' has no valid data_offsets") }
            let start = UInt64(offsets[0].int64Value), end = UInt64(offsets[1].int64Value)
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
}
