import ArgumentParser
import Foundation
import Logging
import MantaAgent
import MantaCLISupport
import MantaHub
import MantaKube
import MantaKubeAPI
import MantaPeer
import ServiceLifecycle

/// Everything on one machine without Kubernetes: the embedded API holding Torrents, Replications, NodeTrackers and
/// Events (persisted in the folder), the Torrent controller and the agent registered as this machine's node, all on
/// the cluster's code paths and talking through the same API client.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.up.rawValue,
        abstract: NetworkCommand.up.abstract,
        discussion: """
            Then `manta apply -f torrent.yaml`, `manta get torrents`, `manta wait --torrent NAME`. The agent's options \
            apply (--mount, --listen, --peers, --token-file, --endpoint, quotas, …); its store defaults to <dir>/store. \
            Several instances given each other as --peers form one swarm: a model one has, the others take from it.
            """
    )

    @Option(help: ArgumentHelp("The folder of the API objects, the store and the API socket (default: /var/lib/manta/up as root, else ~/.local/share/manta/up).", valueName: "dir"))
    var dir: String?

    @Option(name: .customLong("api-listen"), help: ArgumentHelp("Also serve the API over TCP here, for kubectl --server (port 0: any free port).", valueName: "host:port"))
    var apiListen: String?

    @Option(name: .customLong("node-labels"), help: ArgumentHelp("Labels of this node, for Torrents' nodeSelector.", valueName: "key=value,…"))
    var nodeLabels: String?

    @Option(name: .customLong("node-name"), help: ArgumentHelp("This machine's node name (default: the host name).", valueName: "name"))
    var nodeName: String?

    @OptionGroup(title: "Agent") var agent: AgentOptions

    @OptionGroup(title: "CSI") var csi: CSIOptions

    func run() async throws {
        let instance = UpInstance(directory: dir)
        let labels = try Self.labels(nodeLabels)
        let apiAddress = try apiListen.map(Self.tcpListener)
        var (configuration, address) = try await agent.agentConfiguration(defaultStoreRoot: instance.storeRoot)
        if configuration.token == nil, !configuration.allowsUnauthenticatedNetwork, ["0.0.0.0", "::", ""].contains(address.host) {
            // Without a token, peers may only be served on loopback: that is the single-machine case.
            configuration.listenHost = "127.0.0.1"
        }
        let logger = Logger(label: "manta.up")
        let store: APIStore
        do {
            store = try APIStore(persistingIn: instance.apiDirectory, logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        let api = EmbeddedAPIService(
            server: EmbeddedAPIServer(store: store), listeners: [.unixSocket(instance.apiSocket)] + (apiAddress.map { [$0] } ?? []), logger: logger
        ) { listener in
            if case .tcp(let host, let port) = listener {
                FileHandle.standardOutput.write(Data("manta up: API at http://\(host):\(port)\n".utf8))
            }
        }
        // One client each for the controller and the agent, as in a cluster: each HTTP/1 client holds a connection per
        // open watch, and one pool for both would run out.
        let controllerClient = try KubeClient(config: KubeConfig(server: instance.apiURL), logger: logger)
        let client = try KubeClient(config: KubeConfig(server: instance.apiURL), logger: logger)
        let nodeName = self.nodeName ?? ProcessInfo.processInfo.hostName
        let discovery = NodeTrackerPeerDiscovery(client: client, nodeName: nodeName, logger: logger)
        configuration.discovery = StaticPeerDiscovery(configuration.peers)
        let agentService = try AgentService(configuration: configuration, logger: logger)
        let clusterAgent = ClusterAgent(
            agent: agentService, client: client, discovery: discovery,
            configuration: ClusterAgentConfiguration(nodeName: nodeName), logger: logger)
        agentService.addLocalRoutes(LocalTorrentRoutes.routes(clusterAgent))
        let controller = ControllerService(
            client: controllerClient, resolver: HubRevisionResolver(client: HubClient(configuration: try configuration.hub ?? HubClientConfiguration())),
            configuration: .init(), logger: logger)
        let registration = NodeRegistration(client: client, nodeName: nodeName, labels: labels, logger: logger)
        let announce = Task {
            let port = await agentService.boundPort()
            FileHandle.standardOutput.write(Data("manta up: node \(nodeName), agent on \(configuration.listenHost):\(port), API socket \(instance.apiSocket)\n".utf8))
        }
        defer { announce.cancel() }
        // Shut down in reverse: the agent and the controller stop before the API they talk to.
        var services: [any Service] = [api, registration, controller, agentService, clusterAgent]
        if let plugin = csi.service(agent: agentService, cluster: clusterAgent, nodeName: nodeName, logger: logger) { services.append(plugin) }
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        defer { agentService.store.endSession() }
        var failure: (any Error)?
        do {
            try await group.run()
        } catch {
            failure = error
        }
        try? await client.shutdown()
        try? await controllerClient.shutdown()
        if let failure { throw failure }
    }

    static func labels(_ text: String?) throws -> [String: String] {
        var labels: [String: String] = [:]
        for pair in (text ?? "").split(separator: ",") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty else { throw ValidationError("--node-labels: '\(pair)' is not key=value") }
            labels[parts[0]] = parts[1]
        }
        return labels
    }

    static func tcpListener(_ text: String) throws -> EmbeddedAPIService.Listener {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--api-listen '\(text)' is not host:port")
        }
        let host = String(text[..<colon])
        guard ["127.0.0.1", "::1", "[::1]", "localhost"].contains(host) else {
            throw ValidationError("--api-listen '\(text)': the embedded API has no authentication, so it listens on loopback only (127.0.0.1 or ::1)")
        }
        return .tcp(host: host == "[::1]" ? "::1" : host, port: port)
    }
}
