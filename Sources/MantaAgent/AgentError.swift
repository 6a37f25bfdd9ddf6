/// What the agent cannot do, and what to do about it.
public enum AgentError: Error, CustomStringConvertible, Equatable {
    case noHub(reference: String)
    case diskUnreadable(path: String, reason: String)
    case revisionMoved(reference: String, expected: String, found: String)

    public var description: String {
        switch self {
        case .noHub(let reference):
            "cannot pull \(reference): no peer has it and the agent has no hub; start the agent with HF_ENDPOINT (or --endpoint) set"
        case .diskUnreadable(let path, let reason):
            "cannot read the free space of \(path): \(reason)"
        case .revisionMoved(let reference, let expected, let found):
            "\(reference) is now commit \(found), but the Torrent was resolved to \(expected): recreate the Torrent, or name a commit in hub.revision"
        }
    }
}
