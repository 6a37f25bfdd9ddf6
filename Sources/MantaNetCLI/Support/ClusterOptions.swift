import ArgumentParser
import Logging
import MantaAgent
import MantaKube
import MantaPeer

/// How `manta agent` joins a Kubernetes cluster: with `--node-name` it writes that node's NodeTracker and
/// pulls the Replications placed on it, finding peers through the other NodeTrackers.
struct ClusterOptions: ParsableArguments {
    @Option(name: .customLong("node-name"), help: ArgumentHelp("Join the cluster as this node (in a DaemonSet: spec.nodeName).", valueName: "name"))
    var nodeName: String?

    @Option(
        help: ArgumentHelp("Where other agents reach this one, published in the NodeTracker (default: the --listen address).", valueName: "host:port")
    )
    var advertise: String?

    @Option(help: ArgumentHelp("A kubeconfig to use instead of the in-cluster service account.", valueName: "path"))
    var kubeconfig: String?

    @Option(help: "The kubeconfig context (default: its current-context).")
    var context: String?

    /// The agent's cluster connection, or nil when it runs on its own.
    struct Membership {
        let client: KubeClient
        let discovery: NodeTrackerPeerDiscovery
        let configuration: ClusterAgentConfiguration
    }

    func membership(listen: PeerAddress, staticPeers: [PeerAddress], logger: Logger) throws -> Membership? {
        guard let nodeName else {
            if kubeconfig != nil || advertise != nil || context != nil {
                throw ValidationError("--kubeconfig, --context and --advertise need --node-name: they only matter when the agent joins a cluster")
            }
            return nil
        }
        guard staticPeers.isEmpty else {
            throw ValidationError("--peers and --node-name exclude each other: in a cluster the peers come from the other agents' NodeTrackers")
        }
        // Without --advertise, the listen host with the port actually bound.
        var advertised: PeerAddress?
        if let advertise {
            guard let parsed = PeerAddress(parsing: advertise) else { throw ValidationError("--advertise '\(advertise)' is not host:port") }
            advertised = parsed
        } else if ["0.0.0.0", "::", ""].contains(listen.host) {
            throw ValidationError(
                "--advertise is required when --listen (\(listen)) binds every interface: other agents need one address to reach this one")
        }
        let config = try kubeconfig.map { try KubeConfig.kubeconfig(path: $0, context: context) } ?? KubeConfig.inCluster()
        let client = try KubeClient(config: config, logger: logger)
        return Membership(
            client: client, discovery: NodeTrackerPeerDiscovery(client: client, nodeName: nodeName, logger: logger),
            configuration: ClusterAgentConfiguration(nodeName: nodeName, advertiseAddress: advertised))
    }
}
