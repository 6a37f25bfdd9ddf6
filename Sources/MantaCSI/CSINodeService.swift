import GRPCCore
import Logging
import NIOPosix
import Synchronization

/// The CSI Node service: publishes a model folder read-only at the folder kubelet names, and takes it away again.
/// No staging: a model needs no per-node preparation besides getting it, which publish does.
final class CSINodeService: Csi_V1_Node.SimpleServiceProtocol {
    let configuration: CSIPluginConfiguration
    let backend: any CSIVolumeBackend
    let logger: Logger
    /// Targets with a publish or unpublish running: kubelet serialises calls per volume, but a retry can overtake
    /// a call that timed out on its side.
    private let busyTargets = Mutex<Set<String>>([])

    init(configuration: CSIPluginConfiguration, backend: any CSIVolumeBackend, logger: Logger) {
        self.configuration = configuration
        self.backend = backend
        self.logger = logger
    }

    func nodePublishVolume(request: Csi_V1_NodePublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodePublishVolumeResponse {
        let publish = try CSIPublishRequest(request)
        let target = publish.target.path
        return try await exclusively(target) {
            // Published before (kubelet retries after a restart or a lost answer): nothing to do.
            switch try await onThreadPool({ BindMount.state(of: target) }) {
            case .mounted: return Csi_V1_NodePublishVolumeResponse()
            case .dead:
                logger.notice("replacing a dead mount at a volume's target", metadata: ["target": "\(target)"])
                try await onThreadPool { () throws(BindMountError) in
                    do throws(DeadMountError) { try DeadMount.detachIfDead(target) } catch {
                        throw .failed("detach the dead mount at", target, error.code)
                    }
                }
            case .absent, .folder: break
            }
            let folder: String
            do {
                switch try await backend.prepare(publish.source, for: target) {
                case .ready(let ready): folder = ready
                case .pulling(let progress):
                    throw RPCError(code: .unavailable, message: "\(publish.source) is not on this node yet: \(progress); kubelet retries")
                }
            } catch let error as CSIBackendError {
                throw error.rpcError(for: publish.source)
            }
            try await onThreadPool { () throws(BindMountError) in try BindMount.bindReadOnly(folder, at: target) }
            logger.info(
                "published", metadata: ["volume": "\(request.volumeID)", "source": "\(publish.source)", "folder": "\(folder)", "target": "\(target)"])
            return Csi_V1_NodePublishVolumeResponse()
        }
    }

    func nodeUnpublishVolume(request: Csi_V1_NodeUnpublishVolumeRequest, context: ServerContext) async throws -> Csi_V1_NodeUnpublishVolumeResponse {
        let target = try CSITargetPath(request.targetPath).path
        return try await exclusively(target) {
            try await onThreadPool { () throws(BindMountError) in try BindMount.unpublish(target) }
            do {
                try await backend.release(target)
            } catch {
                throw RPCError(code: .unavailable, message: "the volume at \(target) is unmounted but its model is still held: \(error)")
            }
            logger.info("unpublished", metadata: ["volume": "\(request.volumeID)", "target": "\(target)"])
            return Csi_V1_NodeUnpublishVolumeResponse()
        }
    }

    func nodeGetCapabilities(request: Csi_V1_NodeGetCapabilitiesRequest, context: ServerContext) async throws -> Csi_V1_NodeGetCapabilitiesResponse {
        Csi_V1_NodeGetCapabilitiesResponse()
    }

    func nodeGetInfo(request: Csi_V1_NodeGetInfoRequest, context: ServerContext) async throws -> Csi_V1_NodeGetInfoResponse {
        var response = Csi_V1_NodeGetInfoResponse()
        response.nodeID = configuration.nodeID
        return response
    }

    /// Runs `body` while no other call works on `target`; a second call meanwhile gets ABORTED, as the spec asks.
    private func exclusively<Result: Sendable>(_ target: String, _ body: () async throws -> Result) async throws -> Result {
        guard busyTargets.withLock({ $0.insert(target).inserted }) else {
            throw RPCError(code: .aborted, message: "another operation on \(target) is in progress")
        }
        defer { _ = busyTargets.withLock { $0.remove(target) } }
        return try await body()
    }

    /// Mount calls and stats of FUSE paths can wait on the kernel: off the cooperative threads.
    private func onThreadPool<Result: Sendable>(_ work: @escaping @Sendable () throws(BindMountError) -> Result) async throws -> Result {
        do {
            return try await NIOThreadPool.singleton.runIfActive { try work() }
        } catch let error as BindMountError {
            throw RPCError(code: .internalError, message: "\(error)")
        }
    }
}

extension CSIBackendError {
    func rpcError(for source: CSIVolumeSource) -> RPCError {
        switch self {
        case .notFound(let message): RPCError(code: .notFound, message: "\(source): \(message)")
        case .failedPrecondition(let message): RPCError(code: .failedPrecondition, message: "\(source): \(message)")
        case .unavailable(let message): RPCError(code: .unavailable, message: "\(source): \(message)")
        }
    }
}
