import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import MantaKube
import MantaTestSupport
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization
import Testing

/// A running test API server and a client connected to it.
struct KubeTestEnvironment: Sendable {
    let server: TestAPIServer
    let client: KubeClient
    let port: Int

    /// The server's store behind the faults tests provoke.
    var store: TestAPIServer { server }

    /// Starts a server on 127.0.0.1:0, runs `body` with a client, then stops both.
    static func with<T: Sendable>(
        bookmarkInterval: Duration = .milliseconds(200), watchFragmentBytes: Int? = nil, tls: TLSConfiguration? = nil,
        clientClock: some Clock<Duration> = ContinuousClock(), _ body: @Sendable (KubeTestEnvironment) async throws -> T
    ) async throws -> T {
        let apiServer = TestAPIServer(bookmarkInterval: bookmarkInterval, watchFragmentBytes: watchFragmentBytes)
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        var logger = Logger(label: "test-api-server")
        // Connections cut at the end of a test are not errors worth printing.
        logger.logLevel = .critical
        let app = Application(
            responder: CallbackResponder { (request: Request, _: BasicRequestContext) in try await apiServer.respond(request) },
            server: try tls.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in
                portContinuation.yield(channel.localAddress?.port ?? 0)
                portContinuation.finish()
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let serverTask = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            serverTask.cancel()
            throw TestFailure("the test API server did not start")
        }
        var clientLogger = Logger(label: "test-client")
        clientLogger.logLevel = .warning
        let scheme = tls == nil ? "http" : "https"
        let client = try KubeClient(config: KubeConfig(server: "\(scheme)://127.0.0.1:\(port)"), logger: clientLogger, clock: clientClock)
        let environment = KubeTestEnvironment(server: apiServer, client: client, port: port)
        do {
            let result = try await body(environment)
            await environment.stop(group, serverTask)
            return result
        } catch {
            await environment.stop(group, serverTask)
            throw error
        }
    }

    /// Ends the watches, closes the client, then shuts the server down gracefully (cancelling it mid-request
    /// could leave response writers unfinished); if that takes over five seconds, it is cancelled.
    private func stop(_ group: ServiceGroup, _ serverTask: Task<Void, any Error>) async {
        store.dropWatches()
        try? await client.shutdown()
        await group.triggerGracefulShutdown()
        let deadline = Task {
            try await Task.sleep(for: .seconds(5))
            serverTask.cancel()
        }
        _ = await serverTask.result
        deadline.cancel()
    }
}

/// Shared mutable state for test closures.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    var value: Value { mutex.withLock { $0 } }

    func mutate<T: Sendable>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}

/// Tests provoke failures on purpose; their logs would only be noise.
let quietLogger: Logger = {
    var logger = Logger(label: "test")
    logger.logLevel = .critical
    return logger
}()
