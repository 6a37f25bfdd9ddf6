import Logging
import MantaCSI
import MantaFS
import MantaHub
import MantaKube
import MantaStore
import NIOPosix
import Synchronization

/// The agent's side of CSI volumes: gets the model a volume names onto this node and says where it is in the mount.
/// A `wait` volume's pull runs in the background; kubelet's retries of the publish see its progress until it is done.
final class AgentCSIBackend: CSIVolumeBackend {
    let agent: AgentService
    let cluster: ClusterAgent?
    let logger: Logger
    /// Pulls started for volumes: a running one is not started again, a failed one is reported once and then retried.
    private let pulls = Mutex<[RepoReference: PullState]>([:])

    private enum PullState {
        case running(PullProgress?)
        case failed(CSIBackendError)
    }

    /// How long a model that is in the store may take to show in the mount (its refresh runs on a timer too).
    static let mountVisibilityTimeout = Duration.seconds(10)

    init(agent: AgentService, cluster: ClusterAgent?, logger: Logger) {
        self.agent = agent
        self.cluster = cluster
        self.logger = logger
    }

    func prepare(_ volume: CSIVolumeSource, for publication: String) async throws(CSIBackendError) -> CSIVolumeState {
        guard let mount = agent.mount?.mount else {
            throw .failedPrecondition("the agent runs without a mount (--mount): it has no model folder to publish")
        }
        let reference: RepoReference
        switch volume {
        case .model(let model):
            reference = try Self.storeReference(model.repository, model.revision)
            if try !isStored(reference) {
                switch model.mode {
                case .lazy: try await register(reference)
                case .wait: return try startOrReportPull(reference)
                }
            }
        case .torrent(let name):
            switch try await torrentReference(name) {
            case .ready(let ready): reference = ready
            case .waiting(let progress): return .pulling(progress: progress)
            }
        }
        let folder = try await folder(of: reference, in: mount)
        do {
            try await agent.holds.hold(reference, volume: publication)
        } catch {
            throw .unavailable("could not hold \(reference) in the store for the volume: \(error)")
        }
        return .ready(folder: folder)
    }

    /// The quota may evict the model again once no volume holds it.
    func release(_ publication: String) async throws(CSIBackendError) {
        do {
            try await agent.holds.release(volume: publication)
        } catch {
            throw .unavailable("\(error)")
        }
    }

    // MARK: Models

    /// Pulled, or registered for lazy reads.
    private func isStored(_ reference: RepoReference) throws(CSIBackendError) -> Bool {
        do {
            return try agent.store.resolve(reference) != nil || agent.store.registrations().contains { $0.reference == reference }
        } catch {
            throw .unavailable("could not read the store's references: \(error)")
        }
    }

    /// Registers the model from hub metadata alone (`mode: lazy`): quick, so the publish waits for it.
    private func register(_ reference: RepoReference) async throws(CSIBackendError) {
        do {
            let summary = try await agent.add(try Self.hubReference(reference))
            logger.info("registered for a CSI volume, fetched on first read", metadata: ["model": "\(reference)", "files": "\(summary)"])
        } catch {
            throw Self.backendError(error)
        }
    }

    private func startOrReportPull(_ reference: RepoReference) throws(CSIBackendError) -> CSIVolumeState {
        let hubReference = try Self.hubReference(reference)
        let previous: PullState? = pulls.withLock { pulls in
            let previous = pulls[reference]
            switch previous {
            case .running?: break
            case .failed?: pulls[reference] = nil
            case nil: pulls[reference] = .running(nil)
            }
            return previous
        }
        switch previous {
        case .running(let progress)?:
            return .pulling(progress: progress.map(Self.describe) ?? "the pull is starting")
        case .failed(let error)?:
            throw error
        case nil:
            Task { await pull(reference, hubReference) }
            return .pulling(progress: "the pull started (peers first, then the hub)")
        }
    }

    private func pull(_ reference: RepoReference, _ hubReference: HubModelReference) async {
        logger.info("pulling for a CSI volume", metadata: ["model": "\(reference)"])
        do {
            _ = try await agent.pull(hubReference) { progress in
                self.pulls.withLock { $0[reference] = .running(progress) }
            }
            pulls.withLock { $0[reference] = nil }
        } catch {
            logger.warning("pull for a CSI volume failed", metadata: ["model": "\(reference)", "error": "\(error)"])
            pulls.withLock { $0[reference] = .failed(Self.backendError(error)) }
        }
    }

    static func describe(_ progress: PullProgress) -> String {
        let percent = progress.totalBytes == 0 ? 0 : progress.completedBytes * 100 / progress.totalBytes
        return "\(percent)% (\(progress.completedBytes) of \(progress.totalBytes) bytes)"
    }

    // MARK: Torrents

    private enum TorrentAnswer {
        case ready(RepoReference)
        case waiting(String)
    }

    /// A Torrent's model once it is ready on this node; the controller and the cluster agent place and pull it.
    private func torrentReference(_ name: String) async throws(CSIBackendError) -> TorrentAnswer {
        guard let cluster else {
            throw .failedPrecondition(
                "this agent runs outside a cluster (no --node-name), so it knows no Torrents: name the model with the 'model' attribute")
        }
        let status: LocalTorrentStatus
        let torrent: Torrent?
        do {
            status = try await cluster.status(ofTorrent: name)
            torrent = try await cluster.binding.client.getIfPresent(Torrent.self, name: name)
        } catch {
            throw .unavailable("could not read Torrent \(name) from the API server: \(error)")
        }
        guard let torrent, let hub = torrent.spec.hub else { throw .notFound("there is no Torrent \(name) (or it names no hub model)") }
        switch status.state {
        case .ready:
            return .ready(try Self.storeReference(hub.repoID, hub.effectiveRevision))
        case .notFound:
            throw .notFound("there is no Torrent \(name)")
        case .reclaiming:
            throw .failedPrecondition("Torrent \(name) is being deleted")
        case .failed:
            throw .unavailable("Torrent \(name) failed on this node: \(status.message ?? "no reason given"); the agent retries")
        case .pending, .replicating, .notPlaced:
            let bytes = status.bytesDone.map { done in " (\(done) of \(status.bytesTotal.map(String.init) ?? "?") bytes)" } ?? ""
            return .waiting("Torrent \(name) is \(status.state.rawValue) on this node\(bytes)")
        }
    }

    // MARK: The mount

    /// The model's folder in the mount, once the mount shows it.
    private func folder(of reference: RepoReference, in mount: MountService) async throws(CSIBackendError) -> String {
        let folder = "\(mount.mountPoint)/\(MountLayout.modelPath(reference))"
        let deadline = ContinuousClock.now + Self.mountVisibilityTimeout
        while true {
            let visible =
                (try? await NIOThreadPool.singleton.runIfActive {
                    mount.fileSystem.refresh()
                    return access(folder, F_OK) == 0
                }) ?? false
            if visible { return folder }
            guard ContinuousClock.now < deadline else {
                throw .unavailable("\(reference) is in the store but not yet in the mount at \(folder)")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    // MARK: Names and errors

    private static func storeReference(_ repository: String, _ revision: String) throws(CSIBackendError) -> RepoReference {
        do {
            return try RepoReference(parsing: repository, defaultRevision: revision)
        } catch {
            throw .failedPrecondition("'\(repository)@\(revision)' is not a model name: \(error)")
        }
    }

    private static func hubReference(_ reference: RepoReference) throws(CSIBackendError) -> HubModelReference {
        do {
            return try HubModelReference(repo: HubRepoID(reference.repo), revision: reference.revision)
        } catch {
            throw .failedPrecondition("'\(reference)' is not a hub model name: \(error)")
        }
    }

    /// What the hub or the store said, as the CSI code kubelet acts on.
    static func backendError(_ error: any Error) -> CSIBackendError {
        switch error {
        case HubError.repoNotFound, HubError.revisionNotFound, HubError.fileNotFound:
            .notFound("\(error)")
        case HubError.unauthorized, HubError.gated, AgentError.noHub:
            .failedPrecondition("\(error)")
        default:
            .unavailable("\(error)")
        }
    }
}
