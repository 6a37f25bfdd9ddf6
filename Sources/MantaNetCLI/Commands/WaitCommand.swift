import ArgumentParser
import Foundation
import MantaAgent
import MantaCLISupport
import MantaKube

struct WaitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.wait.rawValue,
        abstract: NetworkCommand.wait.abstract,
        discussion: """
            Asks the node's agent over its local socket (--socket, default: the local `manta up`'s agent; the pod \
            needs no API permissions), or the \
            Kubernetes API for this node's Replication (--kubeconfig or in-cluster, with --node-name). Exits 0 \
            once the model is readable here (pulled, or registered for lazy reads with preheat: false), and \
            non-zero when it failed, when the Torrent is Ready elsewhere but nothing was placed on this node \
            within --not-placed-grace, or when the timeout passed.
            """
    )

    @Option(help: ArgumentHelp("The Torrent (the pod's manta.io/torrent-name label).", valueName: "name"))
    var torrent: String

    @Option(help: ArgumentHelp("The agent's local API socket.", valueName: "path"))
    var socket: String?

    @Option(help: ArgumentHelp("Ask the API instead of the agent, with this kubeconfig.", valueName: "path"))
    var kubeconfig: String?

    @Flag(name: .customLong("in-cluster"), help: "Ask the API instead of the agent, with the pod's service account.")
    var inCluster = false

    @Option(name: .customLong("node-name"), help: ArgumentHelp("This node, when asking the API (default: $NODE_NAME).", valueName: "name"))
    var nodeName: String?

    @Option(help: ArgumentHelp("Give up after this long, e.g. 30m, 90s, 1h30m.", valueName: "duration"))
    var timeout = DurationArgument(duration: .seconds(1800))

    @Option(help: ArgumentHelp("How often to ask, e.g. 2s.", valueName: "duration"))
    var interval = DurationArgument(duration: .seconds(2))

    @Option(
        name: .customLong("not-placed-grace"),
        help: ArgumentHelp("Give up once the Torrent is Ready elsewhere with nothing placed here for this long.", valueName: "duration"))
    var notPlacedGrace = DurationArgument(duration: .seconds(60))

    func validate() throws {
        let sources = (socket == nil ? 0 : 1) + (kubeconfig == nil && !inCluster ? 0 : 1)
        guard sources <= 1 else {
            throw ValidationError("give at most one of --socket and --kubeconfig/--in-cluster (neither: the local `manta up`)")
        }
        guard !torrent.isEmpty else { throw ValidationError("--torrent must name a Torrent") }
    }

    func run() async throws {
        let source: TorrentWaiter.Source
        var client: KubeClient?
        if socket != nil || (kubeconfig == nil && !inCluster) {
            source = .agentSocket(socket ?? AgentConfiguration.defaultSocketPath(storeRoot: UpInstance(directory: nil).storeRoot))
        } else {
            guard let node = nodeName ?? ProcessInfo.processInfo.environment["NODE_NAME"], !node.isEmpty else {
                throw ValidationError("asking the API needs this node's name: pass --node-name or set NODE_NAME")
            }
            let config = try kubeconfig.map { try KubeConfig.kubeconfig(path: $0) } ?? KubeConfig.inCluster()
            let kube = try KubeClient(config: config)
            client = kube
            source = .cluster(kube, nodeName: node)
        }
        let outcome: Result<LocalTorrentStatus, WaitError>
        do throws(WaitError) {
            outcome = .success(
                try await TorrentWaiter(source: source, poll: interval.duration, notPlacedGrace: notPlacedGrace.duration).wait(
                    torrent: torrent, timeout: timeout.duration
                ) { status in
                    let detail = status.message.map { ": \($0)" } ?? ""
                    StandardError.write("\(status.torrent) on \(status.node): \(status.state.rawValue)\(detail)\n")
                })
        } catch {
            outcome = .failure(error)
        }
        try? await client?.shutdown()
        let ready = try outcome.get()
        print("\(ready.torrent) is Ready on node \(ready.node)" + (ready.manifestDigest.map { " (manifest \($0))" } ?? ""))
    }
}
