import MantaFS
import NIOPosix
import ServiceLifecycle

/// Runs a mount as a service: graceful shutdown unmounts, then the lazy source's fetch workers stop.
struct MountRunner: Service {
    let mount: MountService
    let lazySource: LazyChunkSource?

    func run() async throws {
        // A mount a crashed agent left dead is detached by the mount itself, after asking the holder (a stat here
        // would wait on a mount the holder keeps for this agent).
        try await withGracefulShutdownHandler {
            try await mount.run()
        } onGracefulShutdown: {
            mount.stop()
        }
        if let lazySource { try await NIOThreadPool.singleton.runIfActive { lazySource.shutdown() } }
    }
}
