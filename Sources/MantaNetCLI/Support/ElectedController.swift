import Logging
import MantaKube
import ServiceLifecycle

/// The Torrent controller of an instance among several that share one API. It leads while it holds the Lease; after
/// losing it (the API was out of reach past the renew deadline) it stands for election again with a fresh controller,
/// where a cluster's controller exits and leaves the restart to its Deployment.
struct ElectedController: Service {
    let logger: Logger
    let makeController: @Sendable () -> ControllerService

    init(logger: Logger, makeController: @escaping @Sendable () -> ControllerService) {
        self.logger = logger
        self.makeController = makeController
    }

    func run() async throws {
        while !Task.isCancelled {
            do {
                try await makeController().run()
                return
            } catch let error as LeaderElectionError {
                logger.warning("standing for election again", metadata: ["reason": "\(error)"])
            }
        }
    }
}
