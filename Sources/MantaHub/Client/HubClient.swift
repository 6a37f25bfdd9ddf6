import AsyncHTTPClient
import Logging
import MantaTransfer
import NIOCore
import NIOHTTP1

/// A Hugging Face hub client: resolves revisions to commits, lists files with their LFS digests, and reads
/// file contents by byte range with retries. Redirects are followed by the HTTP client, which drops
/// `Authorization` when a redirect leaves the hub's origin (as to a CDN).
public struct HubClient: Sendable {
    public let configuration: HubClientConfiguration
    let httpClient: HTTPClient
    let logger: Logger
    /// What retry waits and metadata timeouts are measured on.
    let clock: Stopwatch

    public init(
        configuration: HubClientConfiguration, httpClient: HTTPClient = .shared, logger: Logger = Logger(label: "manta.hub.client"),
        clock: some Clock<Duration> = ContinuousClock()
    ) {
        self.configuration = configuration
        self.httpClient = httpClient
        self.logger = logger
        self.clock = Stopwatch(clock)
    }

    /// Sends one request and returns the response once its status is a success; failures become `HubError`s or
    /// `RetryableFailure`s for the caller's retry loop. The body is left for the caller to read.
    func execute(
        _ url: String,
        method: HTTPMethod = .GET,
        headers extraHeaders: [(String, String)] = [],
        target: HubRequestTarget
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "User-Agent", value: "manta/1 (+huggingface_hub compatible)")
        request.headers.add(name: "Accept-Encoding", value: "identity")
        if let token = configuration.token {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        for (name, value) in extraHeaders {
            request.headers.add(name: name, value: value)
        }
        let response = try await httpClient.execute(request, timeout: configuration.responseHeadTimeout)
        if (200..<300).contains(Int(response.status.code)) {
            return response
        }
        throw await failure(for: response, url: url, target: target)
    }

    private func failure(for response: HTTPClientResponse, url: String, target: HubRequestTarget) async -> any Error {
        let status = Int(response.status.code)
        let message = await Self.errorMessage(of: response)
        if HubRetryPolicy.isRetryable(status: status) {
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { HubRetryPolicy.parseRetryAfter($0) }
            return RetryableFailure(status: status, retryAfter: retryAfter, message: message)
        }
        let sentToken = configuration.token != nil
        let repo = target.repo
        switch (status, response.headers.first(name: "X-Error-Code")) {
        case (_, "GatedRepo"):
            return HubError.gated(repo: repo, endpoint: configuration.endpoint, message: message)
        case (_, "RepoNotFound"):
            return HubError.repoNotFound(repo: repo, sentToken: sentToken)
        case (_, "RevisionNotFound"):
            return HubError.revisionNotFound(repo: repo, revision: target.revision)
        case (_, "EntryNotFound"):
            return HubError.fileNotFound(repo: repo, revision: target.revision, path: target.path ?? "")
        case (401, _), (403, _):
            return HubError.unauthorized(repo: repo, status: status, sentToken: sentToken, message: message)
        case (404, _):
            if let path = target.path { return HubError.fileNotFound(repo: repo, revision: target.revision, path: path) }
            return HubError.repoNotFound(repo: repo, sentToken: sentToken)
        case (416, _):
            return HubError.rangeNotSatisfiable(repo: repo, path: target.path ?? "", range: target.range ?? "")
        default:
            return HubError.httpStatus(repo: repo, url: url, status: status, attempts: 1, message: message)
        }
    }

    /// The hub's explanation: `X-Error-Message`, else the `error` field of a JSON body, else a short text body.
    private static func errorMessage(of response: HTTPClientResponse) async -> String? {
        if let header = response.headers.first(name: "X-Error-Message"), !header.isEmpty { return header }
        guard let body = try? await response.body.collect(upTo: 16 * 1024), body.readableBytes > 0 else { return nil }
        let text = String(buffer: body).trimmingWhitespace
        if let decoded = try? JSONDecoding.decode(ErrorBody.self, from: body) { return decoded.error }
        return text.count <= 300 && !text.isEmpty ? text : nil
    }

    private struct ErrorBody: Decodable { var error: String }
}

/// What a request is about, so that failures can name it.
struct HubRequestTarget: Sendable {
    var repo: HubRepoID
    var revision: String
    var path: String?
    var range: String?
}

/// A status worth another attempt (429, 5xx), with the server's requested wait.
struct RetryableFailure: Error {
    var status: Int
    var retryAfter: TimeAmount?
    var message: String?
}

/// A metadata answer took longer than `HubClientConfiguration.metadataTimeout`.
struct MetadataTimeout: Error, CustomStringConvertible {
    var timeout: TimeAmount
    var description: String { "no complete answer within \(timeout.nanoseconds / 1_000_000_000) s (HubClientConfiguration.metadataTimeout)" }
}
