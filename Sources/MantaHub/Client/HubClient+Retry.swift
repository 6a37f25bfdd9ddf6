import AsyncHTTPClient
import Logging
import MantaTransfer
import NIOCore

extension HubClient {
    /// Attempts left for one logical request. An attempt that moved data forward resets the count, so a long
    /// download over a flaky link finishes while a hub that never progresses fails after the policy's bound.
    struct RetryBudget {
        let policy: HubRetryPolicy
        let target: HubRequestTarget
        let url: String
        let logger: Logger
        let clock: Stopwatch
        private(set) var failures = 0

        init(client: HubClient, target: HubRequestTarget, url: String) {
            policy = client.configuration.retry
            self.target = target
            self.url = url
            logger = client.logger
            clock = client.clock
        }

        /// Waits before the next attempt, or throws the final error when the budget is spent or the error is not transient.
        mutating func recordFailure(_ error: any Error, madeProgress: Bool) async throws {
            if error is HubError || error is CancellationError { throw error }
            failures = madeProgress ? 1 : failures + 1
            let retryAfter = (error as? RetryableFailure)?.retryAfter
            guard failures < policy.maximumAttempts, let delay = policy.delay(afterAttempt: failures, retryAfter: retryAfter) else {
                throw finalError(for: error)
            }
            logger.warning(
                "hub request failed, retrying",
                metadata: [
                    "repo": "\(target.repo)", "url": "\(url)", "attempt": "\(failures)",
                    "error": "\(Self.describe(error))", "delay_ms": "\(delay.nanoseconds / 1_000_000)",
                ]
            )
            try await clock.sleep(for: .nanoseconds(delay.nanoseconds))
        }

        private func finalError(for error: any Error) -> HubError {
            if let failure = error as? RetryableFailure {
                return .httpStatus(repo: target.repo, url: url, status: failure.status, attempts: failures, message: failure.message)
            }
            return .transport(repo: target.repo, url: url, attempts: failures, reason: Self.describe(error))
        }

        static func describe(_ error: any Error) -> String {
            if let failure = error as? RetryableFailure { return "HTTP \(failure.status)" }
            return String(describing: error)
        }
    }

    /// Runs `operation` until it succeeds or the retry budget is spent.
    func withRetries<Result>(
        url: String,
        target: HubRequestTarget,
        _ operation: () async throws -> Result
    ) async throws -> Result {
        var budget = RetryBudget(client: self, target: target, url: url)
        while true {
            do {
                return try await operation()
            } catch {
                try await budget.recordFailure(error, madeProgress: false)
            }
        }
    }
}
