#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's open-file limit.
public enum FileDescriptorLimit {
    /// Raises the soft limit to the hard one and returns it; nil when the limits cannot be read or changed. A server's
    /// connection caps leave room under this for the store's files and the mount; the common soft default of 1,024
    /// would not.
    @discardableResult
    public static func raiseToHardLimit() -> UInt64? {
        var limit = rlimit()
        guard getrlimit(resourceLimit, &limit) == 0 else { return nil }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            guard setrlimit(resourceLimit, &raised) == 0 else { return UInt64(limit.rlim_cur) }
            return UInt64(raised.rlim_cur)
        }
        return UInt64(limit.rlim_cur)
    }

    #if canImport(Glibc)
    private static let resourceLimit = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceLimit = RLIMIT_NOFILE
    #endif
}
