/// Bad server options, each saying what to give instead.
public enum HubServerError: Error, Hashable, CustomStringConvertible {
    case invalidAddress(String)
    case invalidRate(String)
    case invalidLFSThreshold(Int64)
    case rootNotADirectory(String)
    case tokenFileUnreadable(path: String, reason: String)
    case tokenGivenTwice

    public var description: String {
        switch self {
        case .invalidAddress(let text):
            "'\(text)' is not a listening address: use host:port, e.g. 127.0.0.1:8080 or 0.0.0.0:0 (port 0 picks a free port)"
        case .invalidRate(let text):
            "'\(text)' is not a rate: use bytes per second, e.g. 200M, 1.5G or 1048576"
        case .invalidLFSThreshold(let value):
            "LFS threshold \(value) must be a positive number of bytes"
        case .rootNotADirectory(let path):
            "\(path) is not a directory: give the folder that holds <namespace>/<name>/ repository folders"
        case .tokenFileUnreadable(let path, let reason):
            "cannot use the token file \(path): \(reason); write the token alone in it (e.g. `openssl rand -hex 32 > \(path)`) and make it readable"
        case .tokenGivenTwice:
            "give the hub token one way: --token-file FILE (preferred) or --token TOKEN, not both"
        }
    }
}
