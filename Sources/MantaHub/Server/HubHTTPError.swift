import Foundation
import HTTPTypes
import Hummingbird

/// Error answers in the Hugging Face hub's form: a status, `X-Error-Code` / `X-Error-Message` headers (which
/// `huggingface_hub` turns into `RepositoryNotFoundError`, `GatedRepoError`, …) and a JSON `{"error": …}` body.
enum HubHTTPError: HTTPResponseError {
    case repoNotFound(repo: HubRepoID)
    case revisionNotFound(repo: HubRepoID, revision: String)
    case entryNotFound(repo: HubRepoID, revision: String, path: String)
    case unauthorized
    case gated(path: String)
    case badRequest(String)
    case injected(status: Int, retryAfterSeconds: Int?)

    var status: HTTPResponse.Status {
        switch self {
        case .repoNotFound, .revisionNotFound, .entryNotFound: .notFound
        case .unauthorized, .gated: .unauthorized
        case .badRequest: .badRequest
        case .injected(let status, _): HTTPResponse.Status(code: status)
        }
    }

    private var code: String? {
        switch self {
        case .repoNotFound: "RepoNotFound"
        case .revisionNotFound: "RevisionNotFound"
        case .entryNotFound: "EntryNotFound"
        case .gated: "GatedRepo"
        case .unauthorized, .badRequest, .injected: nil
        }
    }

    private var message: String {
        switch self {
        case .repoNotFound(let repo): "Repository Not Found for url: \(repo)."
        case .revisionNotFound(let repo, let revision): "Invalid rev id: \(revision) (repository \(repo))"
        case .entryNotFound(let repo, let revision, let path): "Entry Not Found: \(path) in \(repo) at \(revision)"
        case .unauthorized: "Invalid credentials in Authorization header"
        case .gated(let path): "Access to \(path) is restricted. You must have access to it and be authenticated to access it. Please log in."
        case .badRequest(let reason): reason
        case .injected(let status, _): "injected fault: HTTP \(status)"
        }
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8", .errorMessage: message]
        if let code { headers[.errorCode] = code }
        if case .injected(_, let retryAfter?) = self { headers[.retryAfter] = "\(retryAfter)" }
        let body = try JSONEncoder().encode(["error": message])
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
