import CFuse
import Foundation

/// What a mount asks of the kernel, before mounting: the largest read (which is also the `max_read` mount option)
/// and whether it uses the kernel features that `MANTA_FUSE_FEATURES=none` (or `--no-passthrough`) turns off.
struct FuseWishes: Sendable {
    /// 4 MiB: a request as large as the default read-ahead window.
    static let wantedPages: UInt32 = 1024
    /// What every kernel since 4.20 takes, and the 1 MiB reads the mount had before it spoke the protocol itself.
    static let basicPages: UInt32 = 256

    let maxPages: UInt32
    /// The kernel's `fs.fuse.max_pages_limit` (256 on kernels without the setting).
    let pagesLimit: UInt32
    let passthrough: Bool
    let cloneDescriptors: Bool

    var maxRead: Int { Int(maxPages) * Int(getpagesize()) }

    init(kernelFeatures: Bool, pagesLimitPath: String = "/proc/sys/fs/fuse/max_pages_limit") {
        let text = (try? String(contentsOfFile: pagesLimitPath, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        // Bounded: the kernel's own ceiling is 65535 pages (a u16 in INIT's answer).
        pagesLimit = text.flatMap { UInt32($0) }.map { min(max($0, 1), UInt32(UInt16.max)) } ?? Self.basicPages
        maxPages = kernelFeatures ? min(pagesLimit, Self.wantedPages) : min(pagesLimit, Self.basicPages)
        passthrough = kernelFeatures
        cloneDescriptors = kernelFeatures
    }

    /// `MANTA_FUSE_FEATURES=none` simulates a kernel without max_pages beyond 256, cloned descriptors and
    /// passthrough.
    static func kernelFeaturesEnabled(configuration: MountConfiguration, environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool
    {
        configuration.kernelFeatures && environment["MANTA_FUSE_FEATURES"]?.lowercased() != "none"
    }
}

/// What the kernel and the mount agreed on at INIT, recorded for the log, the tests and the benchmarks.
public struct FuseNegotiation: Sendable, Equatable, Codable, CustomStringConvertible {
    public var kernelMinor: UInt32
    public var maxPages: UInt32
    public var maxWrite: UInt32
    public var maxReadahead: UInt32
    public var passthrough: Bool
    /// Reader threads, and whether each has its own cloned descriptor.
    public var readers: Int
    public var clonedDescriptors: Bool

    public var description: String {
        "kernel_minor=7.\(kernelMinor) max_pages=\(maxPages) max_write=\(maxWrite) max_readahead=\(maxReadahead) "
            + "passthrough=\(passthrough) readers=\(readers) cloned=\(clonedDescriptors)"
    }
}
