import AsyncHTTPClient
import Foundation
import MantaKube
import MantaTestSupport
import MantaTransfer
import NIOCore
import Prometheus
import ServiceLifecycle
import Testing

@Suite(.timeLimit(.minutes(3))) struct ControllerServiceTests {
    @Test func theElectedControllerReconcilesServesProbesAndStopsOnCancel() async throws {
        try await KubeTestEnvironment.with { env in
            let registry = PrometheusCollectorRegistry()
            let service = ControllerService(
                client: env.client, resolver: TableResolver(),
                configuration: .init(
                    controller: ControllerConfiguration(
                        watchBackoff: Backoff(initial: .milliseconds(10)), retryBaseDelay: .milliseconds(10),
                        metricsFactory: PrometheusMetricsFactory(registry: registry)),
                    leaderElection: LeaderElectionConfiguration(
                        namespace: "manta-system", identity: "pod-1", leaseDuration: .seconds(2), renewDeadline: .seconds(1),
                        retryPeriod: .milliseconds(50))),
                logger: quietLogger)
            let port = Locked(0)
            let probes = ControllerProbeServer(host: "127.0.0.1", port: 0, controller: service, registry: registry, logger: quietLogger) { bound in
                port.mutate { $0 = bound }
            }
            let probeGroup = ServiceGroup(configuration: .init(services: [probes], gracefulShutdownSignals: [], logger: quietLogger))
            let probeTask = Task { try await probeGroup.run() }
            try await eventually("probe server listening") { port.value > 0 }
            // The shared client: one made here would stop the test process on its way out if an expectation threw first.
            let http = HTTPClient.shared
            func get(_ path: String) async throws -> (Int, String) {
                let response = try await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port.value)\(path)"), timeout: .seconds(5))
                return (Int(response.status.code), String(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            #expect(try await get("/readyz").0 == 503, "not ready before it runs")

            let run = Task { try await service.run() }
            try await eventually("leading and synced") { service.isLeader && service.isReady }
            #expect(try await get("/readyz").0 == 200)
            #expect(try await get("/healthz").0 == 200)

            _ = try await env.client.create(Node(name: "node-a"))
            var tracker = try await env.client.create(NodeTracker(nodeName: "node-a"))
            tracker.status = .init(capacityBytes: 100 << 30, freeBytes: 100 << 30)
            _ = try await env.client.updateStatus(tracker)
            _ = try await env.client.create(Torrent.sample("served"))
            try await eventually("the elected controller places the replica") {
                try await !env.client.list(Replication.self).items.isEmpty
            }
            let lease = try await env.client.get(Lease.self, name: "manta-controller", namespace: "manta-system")
            #expect(lease.spec?.holderIdentity == "pod-1")
            #expect(try await get("/metrics").1.contains("manta_controller_reconciles_total"))

            run.cancel()
            _ = await run.result
            #expect(!service.isAlive)
            #expect(try await get("/healthz").0 == 503)
            let released = try await env.client.get(Lease.self, name: "manta-controller", namespace: "manta-system")
            #expect(released.spec?.holderIdentity == "", "a stopped leader hands the lease back")
            await probeGroup.triggerGracefulShutdown()
            try await probeTask.value
        }
    }

    @Test func aFollowerIsReadyButDoesNotReconcile() async throws {
        try await KubeTestEnvironment.with { env in
            // Someone else holds a fresh lease.
            let now = KubeJSON.microTime(Date())
            _ = try await env.client.create(
                Lease(
                    name: "manta-controller", namespace: "manta-system",
                    spec: .init(holderIdentity: "pod-0", leaseDurationSeconds: 60, acquireTime: now, renewTime: now, leaseTransitions: 0)))
            let service = ControllerService(
                client: env.client, resolver: TableResolver(),
                configuration: .init(
                    leaderElection: LeaderElectionConfiguration(namespace: "manta-system", identity: "pod-1", retryPeriod: .milliseconds(50))),
                logger: quietLogger)
            let run = Task { try await service.run() }
            try await eventually("running as a follower") { service.isReady }
            #expect(!service.isLeader)
            _ = try await env.client.create(Torrent.sample("untouched"))
            run.cancel()
            try await run.value
            #expect(try await env.client.get(Torrent.self, name: "untouched").metadata.finalizers == nil, "a follower does not reconcile")
            #expect(!service.isReady && !service.isAlive)
        }
    }

    @Test func eventsTellTheStoryOfATorrent() async throws {
        try await ControllerHarness.with { harness in
            try await harness.addNode("node-a")
            _ = try await harness.client.create(Torrent.sample("told"))
            _ = try await harness.waitForReplicas("told", count: 1)
            try await harness.report("told", on: "node-a", .ready)
            _ = try await harness.waitForPhase("told", .ready)
            try await eventually("Scheduled and Ready events") {
                let reasons = try await harness.client.list(Event.self, namespace: "default").items
                    .filter { $0.involvedObject.name == "told" }.compactMap(\.reason)
                return reasons.contains("Scheduled") && reasons.contains("Ready")
            }
        }
    }
}
