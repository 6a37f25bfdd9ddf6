import ArgumentParser
import Foundation
import MantaAgent
import MantaCLISupport
import MantaHub
import MantaPeer
import MantaServerLimits
import MantaStore
import MantaTransfer

/// The options of the node agent, shared by `manta agent` and `manta up`: store, mount, peer service, limits, quota.
struct AgentOptions: ParsableArguments {
    @OptionGroup var storeOptions: StoreOptions

    @Option(help: ArgumentHelp("Mount the models read-only here (optional).", valueName: "dir"))
    var mount: String?

    @Option(help: ArgumentHelp("Address for the peer API, /metrics and health (port 0: any free port).", valueName: "host:port"))
    var listen = "0.0.0.0:7480"

    @Option(help: ArgumentHelp("Other agents, comma-separated.", valueName: "host:port,…"))
    var peers: String?

    @Option(
        name: .customLong("token-file"),
        help: ArgumentHelp(
            "File holding the shared cluster token (default: $MANTA_TOKEN); required unless --listen is a loopback address.", valueName: "file"))
    var tokenFile: String?

    @Flag(
        name: .customLong("insecure-no-auth"),
        help: "Serve peers on a non-loopback --listen address without a token (anyone who reaches it reads every model).")
    var insecureNoAuth = false

    @Option(name: .customLong("upload-rate"), help: "Cap on bytes served to peers, e.g. 50MB/s.")
    var uploadRate: String?

    @Option(name: .customLong("download-rate"), help: "Cap on bytes fetched from peers, e.g. 50MB/s.")
    var downloadRate: String?

    @Option(
        help: ArgumentHelp(
            "The hub to resolve models on and pull what no peer has from (default: $HF_ENDPOINT, else https://huggingface.co).", valueName: "url"))
    var endpoint: String?

    @Option(help: ArgumentHelp("The unix socket for local commands such as `manta pull` (default: <store>/agent.sock).", valueName: "path"))
    var socket: String?

    @Option(
        name: .customLong("socket-group"),
        help: ArgumentHelp(
            "The group that may use the socket besides the agent's user (mode 0660; default: the agent's group).", valueName: "name|gid"))
    var socketGroup: String?

    @Option(
        name: .customLong("idle-timeout"),
        help: ArgumentHelp("Close a peer connection that sends no complete request for this long.", valueName: "duration"))
    var idleTimeout = DurationArgument(duration: ServerLimits.peer.idleTimeout)

    @Option(
        name: .customLong("max-connections"),
        help: ArgumentHelp("Peer connections open at once; at the cap the longest-idle one makes room.", valueName: "n"))
    var maxConnections = ServerLimits.peer.maxConnections

    @Option(
        name: .customLong("max-connections-per-client"),
        help: ArgumentHelp("Peer connections from one IP address at once (agents on one host share one).", valueName: "n"))
    var maxConnectionsPerClient = ServerLimits.peer.maxConnectionsPerClient

    @Option(
        name: .customLong("swarm-topology"),
        help: ArgumentHelp(
            "How nodes pulling one model pass its chunks on: a line, striped trees, or automatic (a line up to ten followers, trees beyond; docs/swarm.md).",
            valueName: "automatic|line|tree"))
    var swarmTopology = SwarmTopology.automatic

    @OptionGroup(title: "Quota") var quota: QuotaOptions

    @OptionGroup var handoverOptions: HandoverOptions

    /// The agent's configuration from these options, and the address it listens on (`manta up` runs its agent with them).
    func agentConfiguration(defaultStoreRoot: String) async throws -> (configuration: AgentConfiguration, listen: PeerAddress) {
        guard let address = PeerAddress(parsing: listen) ?? (listen.hasSuffix(":0") ? PeerAddress(host: String(listen.dropLast(2)), port: 0) : nil)
        else {
            throw ValidationError("--listen '\(listen)' is not host:port")
        }
        var peerList: [PeerAddress] = []
        for text in (peers ?? "").split(separator: ",").map(String.init) where !text.isEmpty {
            guard let peer = PeerAddress(parsing: text) else { throw ValidationError("--peers: '\(text)' is not host:port") }
            peerList.append(peer)
        }
        var environment = ProcessInfo.processInfo.environment
        if let endpoint { environment["HF_ENDPOINT"] = endpoint }
        var configuration = AgentConfiguration(
            storeRoot: storeOptions.store ?? defaultStoreRoot, mountPoint: mount, listenHost: address.host, listenPort: address.port,
            peers: peerList, token: try readToken(), uploadRate: try rate(uploadRate, "--upload-rate"),
            downloadRate: try rate(downloadRate, "--download-rate"),
            hub: try await HubClientConfiguration.fromEnvironment(environment)
        )
        configuration.socketPath = socket
        configuration.swarmTopology = swarmTopology
        configuration.socketGroup = try socketGroup.map(Self.groupID)
        configuration.allowsUnauthenticatedNetwork = insecureNoAuth
        configuration.storeChanges = quota.storeChanges
        configuration.quotaCheckInterval = quota.interval.duration
        configuration.mountHandover = mount.flatMap { handoverOptions.handover(storeRoot: configuration.storeRoot, mountPoint: $0) }
        guard (1...1_000_000).contains(maxConnections) else {
            throw ValidationError("--max-connections \(maxConnections) is not between 1 and 1000000")
        }
        guard idleTimeout.duration > .zero, idleTimeout.duration <= .seconds(86_400) else {
            throw ValidationError("--idle-timeout must be longer than 0s and at most 24h")
        }
        guard (1...maxConnections).contains(maxConnectionsPerClient) else {
            throw ValidationError(
                "--max-connections-per-client \(maxConnectionsPerClient) is not between 1 and --max-connections (\(maxConnections))")
        }
        configuration.peerLimits.maxConnections = maxConnections
        configuration.peerLimits.maxConnectionsPerClient = maxConnectionsPerClient
        configuration.peerLimits.idleTimeout = idleTimeout.duration
        return (configuration, address)
    }

    private func readToken() throws -> String? {
        guard let tokenFile else { return ProcessInfo.processInfo.environment["MANTA_TOKEN"].flatMap { $0.isEmpty ? nil : $0 } }
        do throws(TokenFile.Problem) {
            return try TokenFile.read(tokenFile)
        } catch .missing, .unreadable {
            throw ValidationError("cannot read the token file \(tokenFile): mount the cluster token Secret there, or leave --token-file out")
        } catch {
            throw ValidationError("the token file \(tokenFile) \(error)")
        }
    }

    /// A group named or numbered as on the command line.
    private static func groupID(_ text: String) throws -> UInt32 {
        if let number = UInt32(text) { return number }
        var entry = group()
        var found: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16 << 10)
        guard getgrnam_r(text, &entry, &buffer, buffer.count, &found) == 0, let found else {
            throw ValidationError("--socket-group '\(text)' is neither a group of this system (/etc/group) nor a numeric GID")
        }
        return found.pointee.gr_gid
    }

    private func rate(_ text: String?, _ option: String) throws -> UInt64? {
        guard let text else { return nil }
        guard let rate = RateLimiter.parseRate(text) else { throw ValidationError("\(option) '\(text)' is not a rate like 50MB/s") }
        return rate
    }
}
