/// A request the embedded API server refuses, with the HTTP code, the Kubernetes reason and the message a
/// client shows, as the real API server words it.
public struct APIRequestError: Error, Sendable {
    public var code: Int
    public var reason: String
    public var message: String

    public init(code: Int, reason: String, message: String) {
        self.code = code
        self.reason = reason
        self.message = message
    }
}
