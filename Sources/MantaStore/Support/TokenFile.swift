#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A secret kept as the one line of a file (a token mounted from a Secret, one made with `openssl rand`): read
/// with a bound, trimmed, and checked to fit an `Authorization` header.
public enum TokenFile {
    /// A token file is a few dozen bytes (a service account's JWT about a thousand); anything much longer is not one.
    public static let maximumSize = 16 << 10

    /// Why a token file cannot be used, in words that follow its path.
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case missing
        case unreadable(reason: String)
        case tooLong
        case empty
        case unprintable

        public var description: String {
            switch self {
            case .missing: "does not exist"
            case .unreadable(let reason): "cannot be read: \(reason)"
            case .tooLong: "is longer than \(TokenFile.maximumSize) bytes, which no token is"
            case .empty: "is empty"
            case .unprintable: "holds spaces or control characters inside the token, which no Authorization header can carry"
            }
        }
    }

    /// The token in the file at `path`.
    public static func read(_ path: String) throws(Problem) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw errno == ENOENT ? .missing : .unreadable(reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: maximumSize + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[count...])
                return Glibc.read(descriptor, rest.baseAddress, rest.count)
            }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw .unreadable(reason: String(cString: strerror(errno))) }
            if got == 0 { break }
            count += got
        }
        guard count <= maximumSize else { throw .tooLong }
        let token = String(decoding: bytes[..<count], as: UTF8.self).trimmingWhitespace
        guard !token.isEmpty else { throw .empty }
        guard !token.utf8.contains(where: { $0 < 0x21 || $0 == 0x7f }) else { throw .unprintable }
        return token
    }
}
