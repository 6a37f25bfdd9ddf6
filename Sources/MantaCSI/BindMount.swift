import Glibc

/// Read-only bind mounts of a model folder at a volume's target folder, and their removal. Root only.
enum BindMount {
    /// What is at a target folder now.
    enum TargetState: Equatable {
        case absent
        /// A folder with nothing mounted on it.
        case folder
        /// Something is mounted there and answers.
        case mounted
        /// Something is mounted there whose FUSE server is gone (ENOTCONN): an agent crashed since it was published.
        case dead
    }

    static func state(of target: String) -> TargetState {
        if DeadMount.isDead(target) { return .dead }
        var information = stat()
        guard stat(target, &information) == 0 else { return .absent }
        return isMountPoint(target) ? .mounted : .folder
    }

    /// Binds `source` at `target` (created when missing), then makes the bind read-only: a bind takes the flags of
    /// the mount it copies, and only a remount of the bind itself sets its own.
    static func bindReadOnly(_ source: String, at target: String) throws(BindMountError) {
        try makeFolder(target)
        guard mount(source, target, nil, UInt(MS_BIND), nil) == 0 else { throw .failed("bind \(source) at", target, errno) }
        guard mount(nil, target, nil, UInt(MS_BIND | MS_REMOUNT | MS_RDONLY), nil) == 0 else {
            let error = errno
            umount2(target, Int32(MNT_DETACH))
            throw .failed("make read-only the bind at", target, error)
        }
    }

    /// Unmounts everything mounted at `target` and removes the folder. A bind a reader still holds a file in is
    /// detached (MNT_DETACH): the reader keeps its file, the folder is free at once.
    static func unpublish(_ target: String) throws(BindMountError) {
        // Bounded: each round removes one mount or fails.
        for _ in 0..<maximumStackedMounts where isMountPoint(target) {
            if umount2(target, 0) != 0 {
                guard errno == EBUSY || errno == ENOTCONN, umount2(target, Int32(MNT_DETACH)) == 0 else { throw .failed("unmount", target, errno) }
            }
        }
        guard !isMountPoint(target) else { throw .failed("unmount every mount at", target, EBUSY) }
        guard rmdir(target) == 0 || errno == ENOENT else { throw .failed("remove the folder", target, errno) }
    }

    /// More mounts than this on one target folder are not Manta's doing.
    static let maximumStackedMounts = 16

    /// Whether `path` is a mount point, from /proc/self/mountinfo (a stat cannot tell a bind of a folder on the same
    /// file system from the folder, and a dead mount cannot be stat'ed at all).
    static func isMountPoint(_ path: String) -> Bool {
        guard let table = readProcFile("/proc/self/mountinfo") else { return false }
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ", maxSplits: 5)
            return fields.count > 4 && unescapeMountPath(fields[4]) == path
        }
    }

    /// mountinfo writes space, tab, newline and backslash in paths as octal escapes (`\040`).
    static func unescapeMountPath(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        let utf8 = Array(field.utf8)
        var index = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 4 <= utf8.count,
                let value = UInt8(String(decoding: utf8[(index + 1)..<(index + 4)], as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                index += 4
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// procfs files report no size: read until the end, bounded.
    private static func readProcFile(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while bytes.count < 64 << 20 {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func makeFolder(_ path: String) throws(BindMountError) {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            guard mkdir(prefix, 0o750) == 0 || errno == EEXIST else { throw .failed("create the folder", prefix, errno) }
        }
    }
}

/// A mount operation the kernel refused.
struct BindMountError: Error, CustomStringConvertible {
    let action: String
    let path: String
    let code: Int32

    static func failed(_ action: String, _ path: String, _ code: Int32) -> BindMountError { BindMountError(action: action, path: path, code: code) }

    var description: String { "could not \(action) \(path): \(String(cString: strerror(code))) (errno \(code))" }
}
