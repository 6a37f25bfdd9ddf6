import MantaStore
import MantaWire
import NIOCore
import NIOPosix

/// Where the hub is, who we are, and how hard to try.
public struct HubClientConfiguration: Sendable {
    public static let defaultEndpoint = "https://huggingface.co"

    /// Base URL of the hub, without a trailing slash.
    public let endpoint: String
    /// Sent as `Authorization: Bearer <token>` (and never to another host after a redirect).
    public let token: String?
    public var retry: HubRetryPolicy
    /// Longest wait for a response's status and headers, connecting included (the HTTP client keeps retrying a refused
    /// connection until then); a stalled body is bounded by the HTTP client's read timeout.
    public var responseHeadTimeout: TimeAmount
    /// Longest one attempt at a metadata answer (model info, a page of the file tree) may take, its body included:
    /// a hub that trickles an answer is given up on (and retried like a broken connection).
    public var metadataTimeout: TimeAmount
    /// Caps on the hub's metadata answers: pages, entries, sizes (see `HubAnswerLimits` for the defaults).
    public var limits: HubAnswerLimits

    public init(
        endpoint: String = HubClientConfiguration.defaultEndpoint,
        token: String? = nil,
        retry: HubRetryPolicy = HubRetryPolicy(),
        responseHeadTimeout: TimeAmount = .seconds(30),
        metadataTimeout: TimeAmount = .seconds(60),
        limits: HubAnswerLimits = HubAnswerLimits()
    ) throws(HubError) {
        var trimmed = endpoint
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard trimmed.hasPrefix("http://") || trimmed.hasPrefix("https://"), trimmed.split(separator: "/").count >= 2 else {
            throw HubError.invalidEndpoint(endpoint)
        }
        self.endpoint = trimmed
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.retry = retry
        self.responseHeadTimeout = responseHeadTimeout
        self.metadataTimeout = metadataTimeout
        self.limits = limits
    }

    /// Reads the settings `huggingface_hub` reads: `HF_ENDPOINT`; `HF_TOKEN` (or the older `HUGGING_FACE_HUB_TOKEN`),
    /// else the token file at `HF_TOKEN_PATH`, else `$HF_HOME/token`, else `~/.cache/huggingface/token`.
    /// A missing token file means anonymous access; an unreadable one is an error. The caps on the hub's answers
    /// come from `MANTA_HUB_MAX_*` (`HubAnswerLimits.init(environment:)`).
    public static func fromEnvironment(
        _ environment: [String: String],
        retry: HubRetryPolicy = HubRetryPolicy()
    ) async throws(HubError) -> HubClientConfiguration {
        let endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultEndpoint
        let token: String?
        if let value = environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"], !value.isEmpty {
            token = value
        } else if let path = tokenFilePath(environment) {
            token = try await readTokenFile(at: path)
        } else {
            token = nil
        }
        let limits: HubAnswerLimits
        do {
            limits = try HubAnswerLimits(environment: environment)
        } catch {
            throw HubError.invalidSetting("\(error)")
        }
        return try HubClientConfiguration(endpoint: endpoint, token: token, retry: retry, limits: limits)
    }

    static func tokenFilePath(_ environment: [String: String]) -> String? {
        if let path = environment["HF_TOKEN_PATH"], !path.isEmpty { return path }
        if let home = environment["HF_HOME"], !home.isEmpty { return home + "/token" }
        if let cache = environment["XDG_CACHE_HOME"], !cache.isEmpty { return cache + "/huggingface/token" }
        if let home = environment["HOME"], !home.isEmpty { return home + "/.cache/huggingface/token" }
        return nil
    }

    /// The token in the Hugging Face token file (`TokenFile`); none when there is no such file or it is empty.
    static func readTokenFile(at path: String) async throws(HubError) -> String? {
        let outcome: Result<String?, TokenFile.Problem>
        do {
            outcome = try await NIOThreadPool.singleton.runIfActive { () -> Result<String?, TokenFile.Problem> in
                do throws(TokenFile.Problem) {
                    return .success(try TokenFile.read(path))
                } catch .missing, .empty {
                    return .success(nil)
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            throw .tokenFileUnreadable(path: path, reason: "\(error)")
        }
        do {
            return try outcome.get()
        } catch {
            throw .tokenFileUnreadable(path: path, reason: "it \(error)")
        }
    }
}
