import Glibc

/// A FUSE mount, or a bind of one, whose server is gone: a crashed agent leaves one at its mount point and at every
/// volume it published. Every stat of it fails with ENOTCONN and nothing can be mounted on it until it is detached.
public enum DeadMount {
    /// Whether `path` is such a mount. Asks the file system (statvfs: the kernel caches a FUSE inode's attributes, so
    /// a stat can still succeed on a dead mount; statvfs always reaches the server): call it off the cooperative threads.
    public static func isDead(_ path: String) -> Bool {
        var information = stat()
        if stat(path, &information) != 0 { return errno == ENOTCONN }
        var fileSystem = statvfs()
        return statvfs(path, &fileSystem) != 0 && errno == ENOTCONN
    }

    /// Lazily unmounts a dead mount at `path` (MNT_DETACH: processes holding files in it keep them until they
    /// close them); returns whether there was one.
    @discardableResult
    public static func detachIfDead(_ path: String) throws(DeadMountError) -> Bool {
        guard isDead(path) else { return false }
        guard umount2(path, Int32(MNT_DETACH)) == 0 else { throw DeadMountError(path: path, code: errno) }
        return true
    }
}

/// A dead mount the kernel would not detach (the process lacks CAP_SYS_ADMIN, or the path is no mount point).
public struct DeadMountError: Error, CustomStringConvertible {
    public let path: String
    public let code: Int32

    public var description: String {
        "\(path) is a dead FUSE mount (its server is gone) and could not be detached: \(String(cString: strerror(code))); run `umount -l \(path)` as root"
    }
}
