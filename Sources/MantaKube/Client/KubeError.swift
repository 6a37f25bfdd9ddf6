/// What went wrong talking to the Kubernetes API, and what to do about it.
public enum KubeError: Error, CustomStringConvertible, Sendable {
    /// The API server answered with an error status.
    case api(code: Int, reason: String, message: String)
    /// The API server could not be reached or the connection broke.
    case transport(String)
    /// The API server sent something that is not the expected JSON.
    case decoding(what: String, detail: String)
    /// The client configuration (in-cluster files or kubeconfig) is unusable.
    case configuration(String)
    /// A watch fell too far behind; the caller must list again.
    case gone(String)

    public var description: String {
        switch self {
        case .api(let code, let reason, let message):
            "Kubernetes API error \(code) \(reason): \(message)"
        case .transport(let detail):
            "cannot reach the Kubernetes API server: \(detail); check the server address and network"
        case .decoding(let what, let detail):
            "unexpected response from the Kubernetes API for \(what): \(detail)"
        case .configuration(let detail):
            "invalid Kubernetes client configuration: \(detail)"
        case .gone(let detail):
            "resource version too old (410 Gone): \(detail); list again"
        }
    }

    public var statusCode: Int? {
        switch self {
        case .api(let code, _, _): code
        case .gone: 410
        default: nil
        }
    }

    public var isNotFound: Bool { statusCode == 404 }
    public var isConflict: Bool { statusCode == 409 }
    public var isAlreadyExists: Bool { if case .api(409, "AlreadyExists", _) = self { true } else { false } }
    public var isGone: Bool { statusCode == 410 }
    public var isInvalid: Bool { statusCode == 422 }
}
