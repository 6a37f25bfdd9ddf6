import Foundation
import Logging
import MantaKube
import MantaPeer
import MantaStore
import MantaTransfer
import NIOPosix
import ServiceLifecycle
import Synchronization

/// How the agent takes part in a cluster.
public struct ClusterAgentConfiguration: Sendable {
    public var nodeName: String
    /// Where other agents reach this one; nil: the listen address with the port bound.
    public var advertiseAddress: PeerAddress?
    /// How often the NodeTracker is written even when nothing happened (free space drifts).
    public var publishInterval: Duration
    /// At most one Replicating status write per Replication per this interval.
    public var progressInterval: Duration
    /// Between attempts at a failed pull.
    public var retryBackoff: Backoff
    /// Reconnects of the watches.
    public var watchBackoff: Backoff
    /// What the intervals and backoffs are measured on.
    public var clock = AnyClock(ContinuousClock())

    public init(
        nodeName: String, advertiseAddress: PeerAddress? = nil, publishInterval: Duration = .seconds(30), progressInterval: Duration = .seconds(2),
        retryBackoff: Backoff = Backoff(initial: .seconds(2), maximum: .seconds(300)), watchBackoff: Backoff = Backoff()
    ) {
        self.nodeName = nodeName
        self.advertiseAddress = advertiseAddress
        self.publishInterval = publishInterval
        self.progressInterval = progressInterval
        self.retryBackoff = retryBackoff
        self.watchBackoff = watchBackoff
    }
}

/// The agent's share of the cluster's work: it keeps its NodeTracker current, pulls the models the
/// controller places on its node (peers first, found through the other NodeTrackers), reports each
/// Replication's progress, pins the models per Replication, and frees them when asked to reclaim.
public final class ClusterAgent: Service, Sendable {
    public let agent: AgentService
    public let binding: NodeAgentBinding
    public let discovery: NodeTrackerPeerDiscovery
    let configuration: ClusterAgentConfiguration
    let logger: Logger
    let replications: Informer<Replication>
    let events: AsyncStream<InformerEvent<Replication>>
    let work = Mutex<[String: ReplicationWork]>([:])
    let gate = ReclaimGate()
    private let publishRequests: AsyncStream<Void>.Continuation
    private let publishes: AsyncStream<Void>

    /// `discovery` should be the one the agent fetches with (its `AgentConfiguration.discovery`); this service runs it.
    public init(
        agent: AgentService, client: KubeClient, discovery: NodeTrackerPeerDiscovery, configuration: ClusterAgentConfiguration,
        logger: Logger = Logger(label: "manta.agent.cluster")
    ) {
        self.agent = agent
        self.discovery = discovery
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: "node"] = "\(configuration.nodeName)"
        self.logger = logger
        binding = NodeAgentBinding(client: client, nodeName: configuration.nodeName, logger: logger)
        let (events, eventSink) = AsyncStream.makeStream(of: InformerEvent<Replication>.self)
        self.events = events
        replications = binding.replications(backoff: configuration.watchBackoff) { eventSink.yield($0) }
        (publishes, publishRequests) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public var nodeName: String { configuration.nodeName }

    /// What `manta wait` asks: whether the Torrent's model is readable on this node.
    public func status(ofTorrent name: String) async throws -> LocalTorrentStatus {
        let replication = replications.get(Replication.name(torrent: name, node: nodeName))
        if let replication, !replication.isReclaiming {
            return LocalTorrentStatus(torrent: name, node: nodeName, replication: replication, torrent: nil)
        }
        let torrent = try await binding.client.getIfPresent(Torrent.self, name: name)
        return LocalTorrentStatus(torrent: name, node: nodeName, replication: replication, torrent: torrent)
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.discovery.run() }
                group.addTask { await self.replications.run() }
                group.addTask { await self.publishLoop() }
                group.addTask {
                    await self.replications.waitForSync()
                    await self.releaseStalePins()
                }
                group.addTask {
                    for await event in self.events { self.handle(event) }
                }
            }
            self.stopAllWork()
        }
    }

    /// Asks for the NodeTracker to be written soon (after a pull or a reclaim).
    func requestPublish() { publishRequests.yield() }

    // MARK: NodeTracker

    private func publishLoop() async {
        var retry = configuration.watchBackoff
        requestPublish()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while (try? await self.configuration.clock.sleep(for: self.configuration.publishInterval)) != nil { self.requestPublish() }
            }
            for await _ in publishes {
                do {
                    try await binding.publish(try await trackerStatus())
                    retry.reset()
                } catch is CancellationError {
                    break
                } catch {
                    let delay = retry.next()
                    logger.warning("could not write the NodeTracker, retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
                    guard (try? await configuration.clock.sleep(for: delay)) != nil else { break }
                    requestPublish()
                }
            }
            group.cancelAll()
        }
    }

    /// The node's disk, the store's use of it, its models, and the address peers reach it on.
    func trackerStatus() async throws -> NodeTracker.Status {
        let address: PeerAddress
        if let advertised = configuration.advertiseAddress {
            address = advertised
        } else {
            address = PeerAddress(host: agent.configuration.listenHost, port: await agent.boundPort())
        }
        let store = agent.store
        return try await NIOThreadPool.singleton.runIfActive {
            var disk = statvfs()
            guard statvfs(store.root, &disk) == 0 else {
                throw AgentError.diskUnreadable(path: store.root, reason: String(cString: strerror(errno)))
            }
            let blockSize = Int64(disk.f_frsize)
            let models = try store.references().compactMap { entry -> NodeTracker.CachedModel? in
                guard let manifest = try? store.manifest(entry.digest) else { return nil }
                let cached = manifest.files.lazy.flatMap(\.chunks).filter { store.contains($0.id) }.reduce(Int64(0)) { $0 + Int64($1.length) }
                return NodeTracker.CachedModel(
                    repoID: entry.reference.repo, revision: entry.reference.revision, commit: manifest.source.commit,
                    manifestDigest: entry.digest.prefixed, cachedBytes: cached, totalBytes: Int64(manifest.logicalSize))
            }
            let space = try store.spaceReport()
            return NodeTracker.Status(
                capacityBytes: Int64(disk.f_blocks) * blockSize, freeBytes: Int64(disk.f_bavail) * blockSize,
                usedBytes: Int64(clamping: space.usedBytes), address: "\(address)", models: models,
                quotaBytes: space.quotaBytes.map { Int64(clamping: $0) }, evictableBytes: Int64(clamping: space.evictableBytes),
                passthroughBytes: Int64(clamping: space.passthroughBytes))
        }
    }
}
