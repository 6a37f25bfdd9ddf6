/// Why a persistent ``APIStore`` cannot open or save its objects.
public enum APIStoreError: Error, Sendable, CustomStringConvertible {
    case unusable(path: String, reason: String)

    public var description: String {
        switch self {
        case .unusable(let path, let reason): "the API store at \(path) is unusable: \(reason)"
        }
    }
}
