/// Where a running `HubServer` listens.
public struct HubServerAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    /// The value for `HF_ENDPOINT`.
    public var endpoint: String { host.contains(":") ? "http://[\(host)]:\(port)" : "http://\(host):\(port)" }

    public var description: String { endpoint }
}
