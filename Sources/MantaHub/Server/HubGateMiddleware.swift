import Hummingbird
import MantaWire

/// Checks the bearer token, counts requests and applies request-level faults before any route runs.
struct HubGateMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?
    let faults: HubFaults
    let statistics: HubServerStatistics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let authorization = request.headers[.authorization]
        statistics.recordRequest(authorized: authorization != nil)
        if let token, !SecretComparison.isBearer(authorization, token: token) { throw HubHTTPError.unauthorized }
        let path = request.uri.path
        let scope: HubFaultScope = path.hasPrefix("/api/") ? .api : .resolve
        switch faults.take(path: path, scope: scope, forBody: false) {
        case .status(let status, let retryAfter):
            throw HubHTTPError.injected(status: status, retryAfterSeconds: retryAfter)
        case .gated:
            throw HubHTTPError.gated(path: path)
        case .redirect(let endpoint) where scope == .resolve:
            let query = request.uri.query.map { "?" + $0 } ?? ""
            return Response(status: .found, headers: [.location: endpoint + path + query, .contentLength: "0"])
        case .redirect, .resetAfter, .corruptBody, nil:
            return try await next(request, context)
        }
    }
}
