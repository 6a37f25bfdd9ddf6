import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` over the file at `offset` without changing its size, then sets its access and modification
/// times back to what they were, as a careful intruder would: only the change time, which no call can set, and
/// the content tell. Returns the bytes it replaced.
@discardableResult
public func overwriteKeepingTimes(_ path: String, at offset: UInt64, with bytes: [UInt8]) throws -> [UInt8] {
    let descriptor = open(path, O_RDWR | O_CLOEXEC)
    guard descriptor >= 0 else { throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
    defer { close(descriptor) }
    var before = stat()
    fstat(descriptor, &before)
    var original = [UInt8](repeating: 0, count: bytes.count)
    let read = original.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
    let written = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
    guard read == bytes.count, written == bytes.count else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    let times = [before.st_atim, before.st_mtim]
    guard futimens(descriptor, times) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    return original
}

/// Drops the kernel's clean page cache (root only), so the next read of a file goes to its file system, a FUSE
/// mount included, instead of pages it served before.
public func dropPageCaches() throws {
    sync()
    let descriptor = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: "/proc/sys/vm/drop_caches"]) }
    defer { close(descriptor) }
    guard write(descriptor, "3\n", 2) == 2 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: "/proc/sys/vm/drop_caches"]) }
}
