import ArgumentParser
import Foundation
import Logging
import MantaAgent
import MantaCLISupport
import MantaHub
import MantaKube
import MantaPeer
import MantaServerLimits
import MantaStore
import ServiceLifecycle

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: NetworkCommand.agent.rawValue,
        abstract: NetworkCommand.agent.abstract
    )

    @OptionGroup var options: AgentOptions

    @OptionGroup(title: "Kubernetes") var cluster: ClusterOptions

    @OptionGroup(title: "CSI") var csi: CSIOptions

    func run() async throws {
        var (configuration, address) = try await options.agentConfiguration(defaultStoreRoot: Store.defaultRoot)
        let peerList = configuration.peers
        let logger = Logger(label: "manta.agent")
        let membership = try cluster.membership(listen: address, staticPeers: peerList, logger: logger)
        configuration.discovery = membership?.discovery
        let agent = try AgentService(configuration: configuration, logger: logger)
        var services: [any Service] = [agent]
        let clusterAgent = membership.map {
            ClusterAgent(agent: agent, client: $0.client, discovery: $0.discovery, configuration: $0.configuration, logger: logger)
        }
        if let clusterAgent { services.append(clusterAgent) }
        if let plugin = csi.service(agent: agent, cluster: clusterAgent, nodeName: cluster.nodeName, logger: logger) { services.append(plugin) }
        agent.addLocalRoutes(LocalTorrentRoutes.routes(clusterAgent))
        let announce = Task {
            let port = await agent.boundPort()
            FileHandle.standardOutput.write(Data("manta agent listening on \(PeerAddress(host: address.host, port: port))\n".utf8))
        }
        defer { announce.cancel() }
        let group = ServiceGroup(configuration: .init(endingGracefully: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        do {
            try await group.run()
        } catch {
            try? await membership?.client.shutdown()
            throw error
        }
        try? await membership?.client.shutdown()
        agent.store.endSession()
    }
}
