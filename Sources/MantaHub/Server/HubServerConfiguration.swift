import MantaServerLimits

/// How a `HubServer` runs.
public struct HubServerConfiguration: Sendable {
    /// The folder of repositories (see docs/hub.md for the layout).
    public let root: String
    public let host: String
    /// 0 lets the OS choose; the chosen port is reported to `run`'s `onListening`.
    public let port: Int
    /// When set, every request must carry `Authorization: Bearer <token>`.
    public let token: String?
    /// Body bytes per second over all responses together; nil for no limit.
    public let maximumBytesPerSecond: Int?
    /// Files at least this large are described as LFS files (so is any weights format, whatever its size).
    public let lfsThreshold: Int64
    /// Connection caps, timeouts, header and body caps.
    public var limits = ServerLimits.hub

    public static let defaultLFSThreshold: Int64 = 10 * 1024 * 1024

    public init(
        root: String,
        host: String = "127.0.0.1",
        port: Int = 0,
        token: String? = nil,
        maximumBytesPerSecond: Int? = nil,
        lfsThreshold: Int64 = HubServerConfiguration.defaultLFSThreshold
    ) throws(HubServerError) {
        guard (0...65535).contains(port) else { throw HubServerError.invalidAddress("\(host):\(port)") }
        guard !host.isEmpty else { throw HubServerError.invalidAddress(":\(port)") }
        if let rate = maximumBytesPerSecond, rate <= 0 { throw HubServerError.invalidRate("\(rate)") }
        guard lfsThreshold > 0 else { throw HubServerError.invalidLFSThreshold(lfsThreshold) }
        self.root = root
        self.host = host
        self.port = port
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.maximumBytesPerSecond = maximumBytesPerSecond
        self.lfsThreshold = lfsThreshold
    }

    /// Parses `host:port` (`[v6]:port` for IPv6), as given to `--addr`.
    public static func parseAddress(_ text: String) throws(HubServerError) -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw HubServerError.invalidAddress(text)
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw HubServerError.invalidAddress(text) }
        return (host, port)
    }

    /// Parses a rate such as `200M`, `1.5G`, `800k` or `1048576` (bytes per second; K/M/G are powers of 1000, Ki/Mi/Gi of 1024).
    public static func parseRate(_ text: String) throws(HubServerError) -> Int {
        let units: [(String, Double)] = [
            ("Ki", 1024), ("Mi", 1024 * 1024), ("Gi", 1024 * 1024 * 1024), ("K", 1e3), ("k", 1e3), ("M", 1e6), ("G", 1e9),
        ]
        var number = text.hasSuffix("/s") ? String(text.dropLast(2)) : text
        if number.hasSuffix("B") { number.removeLast() }
        var multiplier = 1.0
        if let unit = units.first(where: { number.hasSuffix($0.0) }) {
            number.removeLast(unit.0.count)
            multiplier = unit.1
        }
        guard let value = Double(number), value.isFinite, value > 0, value * multiplier >= 1, value * multiplier < 1e15 else {
            throw HubServerError.invalidRate(text)
        }
        return Int(value * multiplier)
    }
}
