/// What the agent cannot do, and what to do about it.
public enum AgentError: Error, CustomStringConvertible, Equatable {
    case noHub(reference: String)

    public var description: String {
        switch self {
        case .noHub(let reference):
            "cannot pull \(reference): no peer has it and the agent has no hub; start the agent with HF_ENDPOINT (or --endpoint) set"
        }
    }
}
