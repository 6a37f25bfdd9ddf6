import Foundation
import HTTPTypes
import Hummingbird
import MantaKube
import MantaKubeAPI
import Synchronization

/// The embedded API server with the faults tests provoke in front of it: a required bearer token, 429s,
/// unavailable watches, and writes by "another client" between a reader's GET and its PUT; it counts requests.
struct TestAPIServer: Sendable {
    struct Faults {
        /// Object keys whose next PUTs and PATCHes are preceded by a write from another client, forcing a 409.
        var interference: [String: Int] = [:]
        var requests: [String: Int] = [:]
        /// False answers watches with 503, as an overloaded or restarting API server would.
        var watchesAvailable = true
        /// Requests still to be refused with 429 Too Many Requests, and the Retry-After they carry.
        var throttle = (times: 0, retryAfterSeconds: 0)
        /// When set, requests must carry this bearer token.
        var requiredToken: String?
    }

    let embedded: EmbeddedAPIServer
    private let faults = Locked(Faults())

    init(bookmarkInterval: Duration, watchFragmentBytes: Int?) {
        embedded = EmbeddedAPIServer(bookmarkInterval: bookmarkInterval, watchFragmentBytes: watchFragmentBytes)
    }

    func respond(_ request: Request) async throws -> Response {
        if let token = faults.value.requiredToken, request.headers[.authorization] != "Bearer \(token)" {
            return EmbeddedAPIServer.status(401, "Unauthorized", "Unauthorized")
        }
        let throttledFor = faults.mutate { faults -> Int? in
            defer { faults.throttle.times = max(0, faults.throttle.times - 1) }
            return faults.throttle.times > 0 ? faults.throttle.retryAfterSeconds : nil
        }
        if let throttledFor {
            var response = EmbeddedAPIServer.status(
                429, "TooManyRequests", "the server has received too many requests and has asked us to try again later")
            response.headers[.retryAfter] = "\(throttledFor)"
            return response
        }
        if let route = APIRoute(path: request.uri.path) {
            let watch = request.uri.queryParameters["watch"].map { $0 == "true" || $0 == "1" } ?? false
            countRequest(
                "\(watch ? "WATCH" : request.method.rawValue) \(route.collection.id)\(route.name == nil ? "" : "/name")\(route.subresource.map { "/\($0)" } ?? "")"
            )
            if watch, !faults.value.watchesAvailable {
                return EmbeddedAPIServer.status(503, "ServiceUnavailable", "watches are unavailable")
            }
            if let name = route.name, request.method == .put || request.method == .patch { interfereIfAsked(route, key: route.key(name)) }
        }
        return try await embedded.respond(request)
    }

    /// A write by some other client between a reader's GET and its PUT.
    private func interfereIfAsked(_ route: APIRoute, key: String) {
        let remaining = faults.mutate { faults -> Int? in
            guard let remaining = faults.interference[key], remaining > 0 else { return nil }
            faults.interference[key] = remaining - 1
            return remaining
        }
        guard let remaining else { return }
        embedded.store.modify(route.collection, key: key) { object in
            let annotations = object["metadata"]?["annotations"]?.objectValue ?? [:]
            object["metadata"]?["annotations"] = .object(annotations.merging(["test/interference": .string(String(remaining))]) { $1 })
        }
    }

    // MARK: Controls

    func currentVersion() -> Int64 { embedded.store.currentVersion() }

    func compact() { embedded.store.compact() }

    func dropWatches() { embedded.store.dropWatches() }

    func setWatchesAvailable(_ available: Bool) { faults.mutate { $0.watchesAvailable = available } }

    /// Refuses the next `times` requests with 429 and a `Retry-After`, as API Priority and Fairness does.
    func throttle(times: Int, retryAfterSeconds: Int = 0) { faults.mutate { $0.throttle = (times, retryAfterSeconds) } }

    func requireToken(_ token: String?) { faults.mutate { $0.requiredToken = token } }

    /// The next `times` updates of `key` meet a concurrent write first, and so a 409.
    func interfere(with key: String, times: Int) { faults.mutate { $0.interference[key] = times } }

    func count(_ request: String) -> Int { faults.value.requests[request, default: 0] }

    private func countRequest(_ request: String) { faults.mutate { $0.requests[request, default: 0] += 1 } }
}
