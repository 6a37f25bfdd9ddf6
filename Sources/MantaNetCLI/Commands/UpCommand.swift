import ArgumentParser
import Foundation
import Logging
import MantaAgent
import MantaCLISupport
import MantaHub
import MantaKube
import MantaKubeAPI
import MantaPeer
import MantaServerLimits
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
            Several instances given each other as --peers form one swarm: a model one has, the others take from it. \
            To spread replicas over several machines, one instance serves its API to the others (--api-listen \
            0.0.0.0:7481, over TLS with a token) and prints the `manta up --join …` command that the others run.
            """
    )

    @Option(
        help: ArgumentHelp(
            "The folder of the API objects, the store and the API socket (default: /var/lib/manta/up as root, else ~/.local/share/manta/up).",
            valueName: "dir"))
    var dir: String?

    @Option(
        name: .customLong("api-listen"),
        help: ArgumentHelp(
            "Also serve the API over TCP here, for kubectl --server and joining instances (port 0: any free port). On a loopback address plain HTTP, elsewhere HTTPS with a token.",
            valueName: "host:port"))
    var apiListen: String?

    @Flag(name: .customLong("api-tls"), help: "Serve --api-listen over HTTPS with a token even on a loopback address.")
    var apiTLS = false

    @Option(
        name: .customLong("api-tls-certificate"), help: ArgumentHelp("The API's certificate (PEM) instead of a generated one.", valueName: "file"))
    var apiTLSCertificate: String?

    @Option(name: .customLong("api-tls-key"), help: ArgumentHelp("The private key (PEM) of --api-tls-certificate.", valueName: "file"))
    var apiTLSKey: String?

    @OptionGroup(title: "Join") var joining: UpJoinOptions

    @Option(help: ArgumentHelp("Where other instances reach this one's agent (default: the --listen address).", valueName: "host:port"))
    var advertise: String?

    @Option(name: .customLong("node-labels"), help: ArgumentHelp("Labels of this node, for Torrents' nodeSelector.", valueName: "key=value,…"))
    var nodeLabels: String?

    @Option(name: .customLong("node-name"), help: ArgumentHelp("This machine's node name (default: the host name).", valueName: "name"))
    var nodeName: String?

    @OptionGroup(title: "Agent") var agent: AgentOptions

    @OptionGroup(title: "CSI") var csi: CSIOptions

    func run() async throws {
        let instance = UpInstance(directory: dir)
        let labels = try Self.labels(nodeLabels)
        var (configuration, address) = try await agent.agentConfiguration(defaultStoreRoot: instance.storeRoot)
        if configuration.token == nil, !configuration.allowsUnauthenticatedNetwork, ["0.0.0.0", "::", ""].contains(address.host) {
            // Without a token, peers may only be served on loopback: that is the single-machine case.
            configuration.listenHost = "127.0.0.1"
        }
        let advertised = try advertise.map { text in
            guard let parsed = PeerAddress(parsing: text) else { throw ValidationError("--advertise '\(text)' is not host:port") }
            return parsed
        }
        let logger = Logger(label: "manta.up")
        let nodeName = self.nodeName ?? ProcessInfo.processInfo.hostName
        var services: [any Service] = []
        let apiConfig: KubeConfig
        let elects: Bool
        if let joined = try await joining.configuration(for: instance) {
            guard apiListen == nil else {
                throw ValidationError("--join and --api-listen exclude each other: a joining instance uses the API it joins")
            }
            // A socket of an earlier run on its own would take the local commands to an API nobody serves.
            try? FileManager.default.removeItem(atPath: instance.apiSocket)
            apiConfig = joined
            elects = true
        } else {
            let listener = try apiListen.map { try tcpListener($0, in: instance) }
            services.append(try Self.api(instance, listener: listener, logger: logger))
            apiConfig = KubeConfig(server: instance.apiURL)
            if case .secureTCP = listener { elects = true } else { elects = false }
        }
        // One client each for the controller and the agent, as in a cluster: each HTTP/1 client holds a connection per
        // open watch, and one pool for both would run out.
        let controllerClient = try KubeClient(config: apiConfig, logger: logger)
        let client = try KubeClient(config: apiConfig, logger: logger)
        let discovery = NodeTrackerPeerDiscovery(client: client, nodeName: nodeName, logger: logger)
        // Peers given by hand, and the other instances sharing this API.
        configuration.discovery = CombinedPeerDiscovery([StaticPeerDiscovery(configuration.peers), discovery])
        let agentService = try AgentService(configuration: configuration, logger: logger)
        let clusterAgent = ClusterAgent(
            agent: agentService, client: client, discovery: discovery,
            configuration: ClusterAgentConfiguration(nodeName: nodeName, advertiseAddress: advertised), logger: logger)
        agentService.addLocalRoutes(LocalTorrentRoutes.routes(clusterAgent))
        let resolver = HubRevisionResolver(client: HubClient(configuration: try configuration.hub ?? HubClientConfiguration()))
        // Instances sharing one API elect one controller among them; alone, the instance needs no Lease.
        let election = elects ? LeaderElectionConfiguration(namespace: apiConfig.namespace, identity: nodeName) : nil
        let controller = ElectedController(logger: logger) {
            ControllerService(client: controllerClient, resolver: resolver, configuration: .init(leaderElection: election), logger: logger)
        }
        let registration = NodeRegistration(
            client: client, nodeName: nodeName, labels: labels,
            addresses: advertised.map { [$0.host] } ?? Self.addresses(of: configuration.listenHost),
            logger: logger)
        let announce = Task {
            let port = await agentService.boundPort()
            let api = joining.join.map { "joined API \($0)" } ?? "API socket \(instance.apiSocket)"
            FileHandle.standardOutput.write(Data("manta up: node \(nodeName), agent on \(configuration.listenHost):\(port), \(api)\n".utf8))
        }
        defer { announce.cancel() }
        // Shut down in reverse: the agent and the controller stop before the API they talk to.
        services += [registration, controller, agentService, clusterAgent]
        if let plugin = csi.service(agent: agentService, cluster: clusterAgent, nodeName: nodeName, logger: logger) { services.append(plugin) }
        let group = ServiceGroup(configuration: .init(endingGracefully: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
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

    /// The embedded API persisted in the instance's folder, on its socket and on `listener`; a secure listener prints
    /// the command that joins another machine to it.
    static func api(_ instance: UpInstance, listener: EmbeddedAPIService.Listener?, logger: Logger) throws -> EmbeddedAPIService {
        let store: APIStore
        do {
            store = try APIStore(persistingIn: instance.apiDirectory, logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        return EmbeddedAPIService(
            server: EmbeddedAPIServer(store: store), listeners: [.unixSocket(instance.apiSocket)] + (listener.map { [$0] } ?? []), logger: logger
        ) {
            listener in
            switch listener {
            case .tcp(let host, let port):
                FileHandle.standardOutput.write(Data("manta up: API at http://\(Self.authority(host, port))\n".utf8))
            case .secureTCP(let host, let port, let access):
                let url = "https://\(Self.authority(["0.0.0.0", "::"].contains(host) ? ProcessInfo.processInfo.hostName : host, port))"
                FileHandle.standardOutput.write(
                    Data(
                        """
                        manta up: API at \(url) (token in \(access.tokenFile), certificate SHA-256 \(access.certificateSHA256))
                        manta up: join another machine with: manta up --join \(url) --join-token-file <a copy of \(access.tokenFile)> --join-ca-sha256 \(access.certificateSHA256)

                        """.utf8))
            case .unixSocket:
                break
            }
        }
    }

    /// The addresses a listener on `host` is reached at: the host itself, or every address of this machine for a
    /// wildcard (link-local ones, which need an interface to be dialled, left out).
    static func addresses(of host: String) -> [String] {
        guard ["0.0.0.0", "::", ""].contains(host) else { return [host] }
        return Host.current().addresses.filter { !$0.contains("%") }
    }

    static func authority(_ host: String, _ port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
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

    /// Plain HTTP on loopback (kubectl on this machine); HTTPS with the instance's token anywhere else, or with --api-tls.
    func tcpListener(_ text: String, in instance: UpInstance) throws -> EmbeddedAPIService.Listener {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--api-listen '\(text)' is not host:port")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard apiTLS || apiTLSCertificate != nil || !["127.0.0.1", "::1", "localhost"].contains(host) else { return .tcp(host: host, port: port) }
        guard (apiTLSCertificate == nil) == (apiTLSKey == nil) else { throw ValidationError("--api-tls-certificate and --api-tls-key go together") }
        let machine = ProcessInfo.processInfo.hostName
        let names = ["localhost", "127.0.0.1", "::1", machine] + Self.addresses(of: host)
        do {
            try FileManager.default.createDirectory(atPath: instance.apiDirectory, withIntermediateDirectories: true)
            let access = try APIAccess.loadOrCreate(
                in: instance.apiDirectory, certificateFile: apiTLSCertificate, keyFile: apiTLSKey, alternativeNames: Array(Set(names)).sorted())
            return .secureTCP(host: host, port: port, access: access)
        } catch {
            throw ValidationError("--api-listen: \(error)")
        }
    }
}
