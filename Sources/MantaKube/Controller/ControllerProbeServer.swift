import Hummingbird
import Logging
import MantaServerLimits
import NIOCore
import Prometheus
import ServiceLifecycle

/// The controller's HTTP endpoints for the kubelet and Prometheus: `/healthz` (liveness), `/readyz`
/// (running; the leader also with synced caches) and `/metrics` (the Prometheus registry).
public struct ControllerProbeServer: Service {
    private let application: Application<RouterResponder<BasicRequestContext>>

    /// - Parameters:
    ///   - host: `0.0.0.0` in a pod; `127.0.0.1` in tests.
    ///   - port: 0 lets the OS choose; `onListening` reports the port actually bound.
    public init(
        host: String = "0.0.0.0", port: Int, controller: ControllerService, registry: PrometheusCollectorRegistry?,
        logger: Logger = Logger(label: "manta.controller.probes"), onListening: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        let router = Router()
        router.get("healthz") { _, _ in
            controller.isAlive ? Self.text(.ok, "ok\n") : Self.text(.serviceUnavailable, "stopped\n")
        }
        router.get("readyz") { _, _ in
            if controller.isReady { return Self.text(.ok, "ok\n") }
            return Self.text(.serviceUnavailable, controller.isAlive ? "not running or caches not synced\n" : "stopped\n")
        }
        if let registry {
            router.get("metrics") { _, _ in
                Response(
                    status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
        }
        application = Application(
            router: router, server: .http1(limits: .probes, logger: logger), configuration: .init(address: .hostname(host, port: port)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) }, logger: logger)
    }

    public func run() async throws {
        try await application.run()
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}
