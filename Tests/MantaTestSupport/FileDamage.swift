import Foundation

/// Damages a file in place, as a failing disk or a stray writer would: flips every bit of the byte at `offset`.
/// Returns the byte it replaced.
@discardableResult
public func flipByte(in path: String, at offset: UInt64) throws -> UInt8 {
    guard let handle = FileHandle(forUpdatingAtPath: path) else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
    defer { try? handle.close() }
    try handle.seek(toOffset: offset)
    guard let original = try handle.read(upToCount: 1)?.first else { throw CocoaError(.fileReadTooLarge, userInfo: [NSFilePathErrorKey: path]) }
    try handle.seek(toOffset: offset)
    try handle.write(contentsOf: [original ^ 0xff])
    return original
}

/// A way to damage a file in place, as a failing disk or a stray write would.
public enum FileDamage: Sendable, CustomStringConvertible {
    /// Flips every bit of the byte at this fraction of the file's length (`flipByte`).
    case flipByte(atFraction: Double)
    /// Keeps only this fraction of the file.
    case truncate(toFraction: Double)
    /// Writes `bytes` over the file from `offset`.
    case overwrite(offset: UInt64, bytes: [UInt8])

    public var description: String {
        switch self {
        case .flipByte(let fraction): "a byte flipped at \(fraction) of the file"
        case .truncate(let fraction): "truncated to \(fraction) of its length"
        case .overwrite(let offset, let bytes): "\(bytes.count) bytes overwritten at \(offset)"
        }
    }

    public func apply(to path: String) throws {
        chmod(path, 0o644)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        switch self {
        case .flipByte(let fraction):
            try MantaTestSupport.flipByte(in: path, at: UInt64(Double(size) * fraction))
        case .truncate(let fraction):
            try handle.truncate(atOffset: UInt64(Double(size) * fraction))
        case .overwrite(let offset, let bytes):
            try handle.seek(toOffset: offset)
            try handle.write(contentsOf: bytes)
        }
    }
}
