import Logging
import MantaServerLimits
import ServiceLifecycle

/// Services a test runs in-process, stopped the way the agent stops them on SIGTERM: by graceful shutdown.
/// Cancelling a Hummingbird server while peers connect can trap in NIO: a connection accepted but not yet handed
/// to the server's loop is dropped with its writer unfinished ("Deinited NIOAsyncWriter without calling finish()",
/// apple/swift-nio#2637), and that takes the whole test process down.
public struct RunningServices: Sendable {
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    /// Starts `services`; `stop()` must follow.
    public init(_ services: [any Service]) {
        // Connections cut at the end of a test are not worth printing.
        var logger = Logger(label: "manta.test.services")
        logger.logLevel = .critical
        // One service ending (an agent whose run throws) shuts the others down gracefully too, as in the agent itself.
        var configuration = ServiceGroupConfiguration(endingGracefully: services, logger: logger)
        // A server that cannot finish its in-flight requests within this is cancelled after all: a hung test is worse.
        configuration.maximumGracefulShutdownDuration = .seconds(20)
        let group = ServiceGroup(configuration: configuration)
        self.group = group
        running = Task { try await group.run() }
    }

    /// Shuts the services down gracefully (they close their listeners, finish what is in flight) and waits for them.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
    }

    /// Runs `services` for the duration of `body`, then stops them, whether `body` returned or threw. `body` may stop
    /// them sooner.
    public static func with<Result>(_ services: [any Service], _ body: (RunningServices) async throws -> Result) async throws -> Result {
        let running = RunningServices(services)
        do {
            let result = try await body(running)
            await running.stop()
            return result
        } catch {
            await running.stop()
            throw error
        }
    }
}
