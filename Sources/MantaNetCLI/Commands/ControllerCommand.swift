import ArgumentParser
import Foundation
import Logging
import MantaAgent
import MantaCLISupport
import MantaHub
import MantaKube
import MantaServerLimits
import Prometheus
import ServiceLifecycle

struct ControllerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.controller.rawValue,
        abstract: NetworkCommand.controller.abstract
    )

    @Option(help: ArgumentHelp("A kubeconfig to use instead of the in-cluster service account.", valueName: "path"))
    var kubeconfig: String?

    @Option(help: "The kubeconfig context (default: its current-context).")
    var context: String?

    @Flag(name: .customLong("leader-elect"), help: "Run only while holding the Lease, so several replicas can stand by.")
    var leaderElect = false

    @Option(name: .customLong("leader-election-namespace"), help: "Namespace of the Lease.")
    var leaderElectionNamespace = "manta-system"

    @Option(name: .customLong("leader-election-identity"), help: "This replica's identity in the Lease (default: the host name).")
    var leaderElectionIdentity: String?

    @Option(name: .customLong("metrics-port"), help: "Port for /metrics.")
    var metricsPort = 8080

    @Option(name: .customLong("health-port"), help: "Port for /healthz and /readyz.")
    var healthPort = 8081

    func run() async throws {
        let logger = Logger(label: "manta.controller")
        let config = try kubeconfig.map { try KubeConfig.kubeconfig(path: $0, context: context) } ?? KubeConfig.inCluster()
        let client = try KubeClient(config: config)
        let hub = HubClient(configuration: try await HubClientConfiguration.fromEnvironment(ProcessInfo.processInfo.environment))
        let registry = PrometheusCollectorRegistry()
        let election =
            leaderElect
            ? LeaderElectionConfiguration(namespace: leaderElectionNamespace, identity: leaderElectionIdentity ?? ProcessInfo.processInfo.hostName)
            : nil
        let controller = ControllerService(
            client: client,
            resolver: HubRevisionResolver(client: hub),
            configuration: .init(
                controller: ControllerConfiguration(metricsFactory: PrometheusMetricsFactory(registry: registry)), leaderElection: election),
            logger: logger
        )
        var services: [any Service] = [controller, ControllerProbeServer(port: healthPort, controller: controller, registry: registry)]
        if metricsPort != healthPort {
            services.append(ControllerProbeServer(port: metricsPort, controller: controller, registry: registry))
        }
        let group = ServiceGroup(configuration: .init(endingGracefully: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
