#if canImport(Glibc)
import Glibc
#endif

/// Where `manta hub serve` takes the token clients must send: a file (`--token-file`), else `MANTA_HUB_TOKEN`, else
/// `--token`, which other users of the machine can read in `/proc/<pid>/cmdline` and so earns a warning.
public struct HubServerToken: Sendable, Equatable {
    public static let environmentVariable = "MANTA_HUB_TOKEN"
    /// A token file is a few dozen bytes; anything much longer is not one.
    static let maximumFileSize = 4096

    public var token: String?
    /// Said once at start-up when the token came from the command line.
    public var warning: String?

    public init(token: String?, warning: String?) {
        self.token = token
        self.warning = warning
    }

    public static func resolve(file: String?, commandLine: String?, environment: [String: String]) throws(HubServerError) -> HubServerToken {
        if let file {
            guard commandLine == nil else { throw .tokenGivenTwice }
            return HubServerToken(token: try contents(ofTokenFile: file), warning: nil)
        }
        if let commandLine, !commandLine.isEmpty {
            return HubServerToken(
                token: commandLine,
                warning: "--token puts the hub token where every user of this machine can read it (/proc/<pid>/cmdline, ps): "
                    + "use --token-file FILE or \(environmentVariable) instead"
            )
        }
        return HubServerToken(token: environment[environmentVariable].flatMap { $0.isEmpty ? nil : $0 }, warning: nil)
    }

    /// The file's text without surrounding white space; it must not be empty.
    static func contents(ofTokenFile path: String) throws(HubServerError) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .tokenFileUnreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: maximumFileSize + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { buffer in
                let rest = UnsafeMutableRawBufferPointer(rebasing: buffer[count...])
                return Glibc.read(descriptor, rest.baseAddress, rest.count)
            }
            if got < 0, errno == EINTR { continue }
            guard got >= 0 else { throw .tokenFileUnreadable(path: path, reason: String(cString: strerror(errno))) }
            if got == 0 { break }
            count += got
        }
        guard count <= maximumFileSize else { throw .tokenFileUnreadable(path: path, reason: "it is longer than \(maximumFileSize) bytes") }
        let token = String(decoding: bytes[..<count], as: UTF8.self).trimmingWhitespace
        guard !token.isEmpty else { throw .tokenFileUnreadable(path: path, reason: "it is empty") }
        guard !token.utf8.contains(where: { $0 < 0x21 || $0 == 0x7f }) else {
            throw .tokenFileUnreadable(path: path, reason: "the token holds spaces or control characters, which no Authorization header can carry")
        }
        return token
    }
}
