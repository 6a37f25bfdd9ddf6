import Logging
import ServiceLifecycle
import UnixSignals

extension ServiceGroupConfiguration {
    /// A group that, when one of its services returns or throws, shuts the others down gracefully instead of
    /// cancelling them (the error still ends `run`). Cancelling a Hummingbird server while clients connect traps in
    /// NIO ("Deinited NIOAsyncWriter without calling finish()", apple/swift-nio#2637): a connection accepted but not
    /// yet handed to the server's loop is dropped unfinished. In the agent that trap would unmount every model.
    public init(endingGracefully services: [any Service], gracefulShutdownSignals: [UnixSignal] = [], logger: Logger) {
        self.init(
            services: services.map {
                ServiceConfiguration(
                    service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
            },
            gracefulShutdownSignals: gracefulShutdownSignals,
            logger: logger
        )
    }
}
