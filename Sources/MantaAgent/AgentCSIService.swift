import Logging
import MantaCSI
import ServiceLifecycle

/// The agent's CSI node plugin as a service of the agent's group (`manta agent --csi-socket`): SIGTERM stops it
/// taking calls, and the ones running answer first.
public struct AgentCSIService: Service {
    let plugin: CSIPlugin

    /// `driverName` nil: `csi.manta.io`. `nodeID` is the Kubernetes node name kubelet knows this node by.
    public init(
        agent: AgentService, cluster: ClusterAgent?, socketPath: String, driverName: String?, nodeID: String, version: String, logger: Logger
    ) {
        let configuration = CSIPluginConfiguration(
            socketPath: socketPath, driverName: driverName ?? CSIPluginConfiguration.defaultDriverName, nodeID: nodeID, version: version)
        plugin = CSIPlugin(configuration: configuration, backend: AgentCSIBackend(agent: agent, cluster: cluster, logger: logger), logger: logger)
    }

    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await plugin.run()
        } onGracefulShutdown: {
            plugin.stop()
        }
    }
}
