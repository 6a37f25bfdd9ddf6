/// What went wrong talking to a peer. Every case names the peer, so a log line says whom to look at.
public enum PeerError: Error, CustomStringConvertible, Equatable {
    case unreachable(peer: String, reason: String)
    case unauthorized(peer: String)
    case notFound(peer: String, what: String)
    case badBytes(peer: String, chunk: String)
    case garbage(peer: String, what: String)
    case status(peer: String, code: Int, what: String)

    public var description: String {
        switch self {
        case .unreachable(let peer, let reason):
            "peer \(peer) is unreachable (\(reason)); it is skipped and the chunk fetched elsewhere"
        case .unauthorized(let peer):
            "peer \(peer) refused the cluster token (401): check that every agent mounts the same token Secret"
        case .notFound(let peer, let what):
            "peer \(peer) does not have \(what)"
        case .badBytes(let peer, let chunk):
            "peer \(peer) sent bytes for \(chunk) that do not hash to it; the peer is penalised and the chunk fetched elsewhere"
        case .garbage(let peer, let what):
            "peer \(peer) sent an invalid \(what); nothing of that answer is used: check that the peer runs the same manta release, and what answers on its address"
        case .status(let peer, let code, let what):
            "peer \(peer) answered HTTP \(code) for \(what)"
        }
    }
}
