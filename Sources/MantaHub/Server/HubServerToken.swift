import MantaStore

#if canImport(Glibc)
import Glibc
#endif

/// Where `manta hub serve` takes the token clients must send: a file (`--token-file`), else `MANTA_HUB_TOKEN`, else
/// `--token`, which other users of the machine can read in `/proc/<pid>/cmdline` and so earns a warning.
public struct HubServerToken: Sendable, Equatable {
    public static let environmentVariable = "MANTA_HUB_TOKEN"
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

    /// The file's token (`TokenFile`).
    static func contents(ofTokenFile path: String) throws(HubServerError) -> String {
        do {
            return try TokenFile.read(path)
        } catch {
            throw .tokenFileUnreadable(path: path, reason: "it \(error)")
        }
    }
}
