import AsyncHTTPClient
import Foundation
import Logging
import MantaStore
import MantaTransfer
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A typed client for the Kubernetes API over AsyncHTTPClient.
///
/// Call ``shutdown()`` when done: it owns its HTTP connection pool.
public struct KubeClient: Sendable {
    public let config: KubeConfig
    let http: HTTPClient
    let tokens: TokenSource
    let logger: Logger
    /// What Retry-After waits and the token's age are measured on.
    let clock: Stopwatch

    /// Deadline for the response head of ordinary requests.
    static let requestTimeout: TimeAmount = .seconds(30)
    /// Largest response body read into memory (a list of thousands of objects fits).
    static let maxBodyBytes = 64 << 20

    /// - Parameters:
    ///   - tokenRefreshInterval: how long a token read from a file is used before the file is read again.
    ///   - connectTimeout: how long to keep trying to connect; a TLS handshake failure (an untrusted server
    ///     certificate, say) is retried until then before the request fails.
    ///   - clock: what throttling waits and the token's age are measured on.
    public init(
        config: KubeConfig, tokenRefreshInterval: Duration = .seconds(60), connectTimeout: Duration = .seconds(10),
        logger: Logger = Logger(label: "manta.kube"), clock: some Clock<Duration> = ContinuousClock()
    ) throws(KubeError) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .nanoseconds(connectTimeout.wholeNanoseconds), read: nil)
        configuration.decompression = .enabled(limit: .none)
        if config.server.hasPrefix("https://") {
            configuration.tlsConfiguration = try Self.tlsConfiguration(config)
        }
        self.config = config
        self.http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        self.clock = Stopwatch(clock)
        self.tokens = TokenSource(credentials: config.credentials, refreshInterval: tokenRefreshInterval, clock: self.clock)
        self.logger = logger
    }

    public func shutdown() async throws {
        try await http.shutdown()
    }

    private static func tlsConfiguration(_ config: KubeConfig) throws(KubeError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        do {
            if config.insecureSkipTLSVerify {
                tls.certificateVerification = .none
            } else if let ca = config.certificateAuthorityPEM {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(ca))
                if !config.verifiesHostname { tls.certificateVerification = .noHostnameVerification }
            }
            if case .clientCertificate(let certificate, let key) = config.credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(certificate).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: key, format: .pem))
            }
        } catch {
            throw .configuration("TLS material is not valid PEM: \(error)")
        }
        return tls
    }

    // MARK: Typed operations

    /// A JSON answer outside the resource paths, such as the certificate a `manta up` instance serves for pinning.
    public func get<T: Decodable>(path: String, as type: T.Type) async throws -> T {
        try await send(.GET, path, as: type)
    }

    public func get<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil) async throws -> R {
        try await send(.GET, R.resourceType.path(namespace: namespace, name: name), as: R.self)
    }

    /// The object, or nil when there is none.
    public func getIfPresent<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil) async throws -> R? {
        do {
            return try await get(type, name: name, namespace: namespace)
        } catch let error as KubeError where error.isNotFound {
            return nil
        }
    }

    public func list<R: KubeResource>(
        _ type: R.Type, namespace: String? = nil, labelSelector: String? = nil, fieldSelector: String? = nil
    ) async throws -> ResourceList<R> {
        var query: [(String, String)] = []
        if let labelSelector { query.append(("labelSelector", labelSelector)) }
        if let fieldSelector { query.append(("fieldSelector", fieldSelector)) }
        return try await send(.GET, R.resourceType.path(namespace: namespace), query: query, as: ResourceList<R>.self)
    }

    public func create<R: KubeResource>(_ object: R) async throws -> R {
        var object = object
        object.stampTypeMeta()
        return try await send(.POST, R.resourceType.path(namespace: object.metadata.namespace), body: try encode(object), as: R.self)
    }

    /// Replaces the object; fails with 409 when `metadata.resourceVersion` is not the current one.
    public func update<R: KubeResource>(_ object: R) async throws -> R {
        var object = object
        object.stampTypeMeta()
        let path = R.resourceType.path(namespace: object.metadata.namespace, name: object.name)
        return try await send(.PUT, path, body: try encode(object), as: R.self)
    }

    /// Replaces only the status; the spec in `object` is ignored by the server.
    public func updateStatus<R: KubeStatusResource>(_ object: R) async throws -> R {
        var object = object
        object.stampTypeMeta()
        let path = R.resourceType.path(namespace: object.metadata.namespace, name: object.name, subresource: "status")
        return try await send(.PUT, path, body: try encode(object), as: R.self)
    }

    /// Applies an RFC 7386 merge patch, to the object or to its `status` subresource.
    public func mergePatch<R: KubeResource>(
        _ type: R.Type, name: String, namespace: String? = nil, patch: JSONValue, subresource: String? = nil
    ) async throws -> R {
        let path = R.resourceType.path(namespace: namespace, name: name, subresource: subresource)
        return try await send(.PATCH, path, body: try encode(patch), contentType: "application/merge-patch+json", as: R.self)
    }

    /// Applies an RFC 6902 JSON patch.
    public func jsonPatch<R: KubeResource>(
        _ type: R.Type, name: String, namespace: String? = nil, operations: [JSONPatchOperation], subresource: String? = nil
    ) async throws -> R {
        let path = R.resourceType.path(namespace: namespace, name: name, subresource: subresource)
        return try await send(.PATCH, path, body: try encode(operations), contentType: "application/json-patch+json", as: R.self)
    }

    /// Deletes an object. With finalizers the object stays, marked by `deletionTimestamp`, until they are removed.
    public func delete<R: KubeResource>(_ type: R.Type, name: String, namespace: String? = nil) async throws {
        let body: JSONValue = ["kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"]
        _ = try await send(.DELETE, R.resourceType.path(namespace: namespace, name: name), body: try encode(body), as: JSONValue.self)
    }

    /// Reads the object, lets `mutate` change it and writes it back; on a 409 conflict it starts again from a
    /// fresh read. `mutate` returns false when there is nothing to write. Returns nil when the object is gone.
    @discardableResult
    public func modify<R: KubeResource>(
        _ type: R.Type, name: String, namespace: String? = nil, status: Bool = false, attempts: Int = 5,
        _ mutate: (inout R) throws -> Bool
    ) async throws -> R? {
        var attempt = 0
        while true {
            attempt += 1
            var object: R
            do {
                object = try await get(R.self, name: name, namespace: namespace)
            } catch let error as KubeError where error.isNotFound {
                return nil
            }
            guard try mutate(&object) else { return object }
            do {
                if status {
                    var object = object
                    object.stampTypeMeta()
                    let path = R.resourceType.path(namespace: namespace, name: name, subresource: "status")
                    return try await send(.PUT, path, body: try encode(object), as: R.self)
                }
                return try await update(object)
            } catch let error as KubeError where error.isConflict && attempt < attempts {
                logger.debug(
                    "conflict, retrying from a fresh read", metadata: ["resource": "\(R.resourceType)", "name": "\(name)", "attempt": "\(attempt)"])
            } catch let error as KubeError where error.isNotFound {
                return nil
            }
        }
    }

    // MARK: Transport

    func encode(_ value: some Encodable) throws -> ByteBuffer {
        do {
            return ByteBuffer(data: try KubeJSON.encoder().encode(value))
        } catch {
            throw KubeError.decoding(what: "request body", detail: "\(error)")
        }
    }

    func send<T: Decodable>(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: ByteBuffer? = nil,
        contentType: String = "application/json", as type: T.Type
    ) async throws -> T {
        let response = try await execute(method, path, query: query, body: body, contentType: contentType, timeout: Self.requestTimeout)
        let bytes = try await collect(response, path: path)
        guard (200..<300).contains(response.status.code) else {
            throw Self.error(status: response.status, body: bytes)
        }
        do {
            return try KubeJSON.decoder().decode(T.self, from: bytes)
        } catch {
            throw KubeError.decoding(what: "\(method) \(path)", detail: "\(error)")
        }
    }

    /// Longest wait a `Retry-After` may impose before a throttled request is tried again.
    static let maxRetryAfter: Duration = .seconds(10)
    /// Throttled (429) attempts before the error reaches the caller.
    static let throttledAttempts = 5

    /// Sends a request; re-reads a rotated token after a 401 (once), and waits out API Priority and Fairness
    /// throttling (429 with `Retry-After`) a few times, as client-go does.
    func execute(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], body: ByteBuffer?, contentType: String, timeout: TimeAmount
    ) async throws -> HTTPClientResponse {
        var reauthenticated = false
        var throttled = 0
        while true {
            let response = try await executeOnce(method, path, query: query, body: body, contentType: contentType, timeout: timeout)
            if response.status == .unauthorized, !reauthenticated, tokens.invalidate() {
                reauthenticated = true
            } else if response.status == .tooManyRequests, throttled + 1 < Self.throttledAttempts {
                throttled += 1
                let seconds = response.headers.first(name: "Retry-After").flatMap { Int64($0) } ?? 1
                _ = try? await collect(response, path: path)
                try await clock.sleep(for: min(.seconds(max(seconds, 0)), Self.maxRetryAfter))
                continue
            } else {
                return response
            }
            _ = try? await collect(response, path: path)
        }
    }

    private func executeOnce(
        _ method: HTTPMethod, _ path: String, query: [(String, String)], body: ByteBuffer?, contentType: String, timeout: TimeAmount
    ) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: config.server + path + Self.queryString(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "manta")
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(body)
        }
        if let token = try await tokens.token() {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        do {
            return try await http.execute(request, timeout: timeout, logger: logger)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw KubeError.transport("\(method) \(path): \(error)")
        }
    }

    private func collect(_ response: HTTPClientResponse, path: String) async throws -> ByteBuffer {
        do {
            return try await response.body.collect(upTo: Self.maxBodyBytes)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw KubeError.transport("reading the response to \(path): \(error)")
        }
    }

    static func error(status: HTTPResponseStatus, body: ByteBuffer) -> KubeError {
        let decoded = try? KubeJSON.decoder().decode(KubeStatus.self, from: body)
        let message = decoded?.message ?? String(buffer: body)
        let reason = decoded?.reason ?? status.reasonPhrase
        if status.code == 410 { return .gone(message) }
        return .api(code: Int(status.code), reason: reason, message: message)
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+,")
        return "?"
            + query.map { key, value in
                "\(key)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)"
            }.joined(separator: "&")
    }
}

/// Supplies the bearer token; a token file is re-read once a minute so kubelet's rotations are picked up.
final class TokenSource: Sendable {
    private struct Cached {
        var token: String
        var readAt: Duration
    }

    private let refreshInterval: Duration
    private let credentials: KubeConfig.Credentials
    private let clock: Stopwatch
    private let cache = Mutex<Cached?>(nil)

    init(credentials: KubeConfig.Credentials, refreshInterval: Duration, clock: Stopwatch) {
        self.credentials = credentials
        self.refreshInterval = refreshInterval
        self.clock = clock
    }

    func token() async throws -> String? {
        switch credentials {
        case .none, .clientCertificate: return nil
        case .token(let token): return token
        case .tokenFile(let path):
            let now = clock.elapsed
            if let cached = cache.withLock({ $0 }), now - cached.readAt < refreshInterval {
                return cached.token
            }
            let token = try await Self.read(path)
            cache.withLock { $0 = Cached(token: token, readAt: now) }
            return token
        }
    }

    /// Forgets the cached token, so the next request reads the file again (after a 401).
    /// Returns false when there is no file to read again.
    func invalidate() -> Bool {
        guard case .tokenFile = credentials else { return false }
        cache.withLock { $0 = nil }
        return true
    }

    private static func read(_ path: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive {
            do {
                return try TokenFile.read(path)
            } catch {
                throw KubeError.configuration("token file \(path) \(error)")
            }
        }
    }
}
