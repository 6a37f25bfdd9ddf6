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
