import MantaTransfer
import Synchronization

/// Gives up on an exchange with a peer that has sent nothing for a while: a watchdog beside the exchange, told of
/// each thing received, and paused while the exchange waits on something other than the peer.
final class StallWatch: Sendable {
    private let clock: Stopwatch
    private let state = Mutex<(lastProgress: Duration, paused: Bool)>((.zero, false))

    init(clock: some Clock<Duration>) {
        self.clock = Stopwatch(clock)
    }

    /// Something arrived from the peer.
    func progressed() {
        state.withLock { $0.lastProgress = clock.elapsed }
    }

    /// Runs `wait` (not the peer's doing) without it counting as silence.
    func paused<T>(_ wait: () async throws -> T) async rethrows -> T {
        state.withLock { $0.paused = true }
        defer { state.withLock { $0 = (clock.elapsed, false) } }
        return try await wait()
    }

    /// `exchange`'s result, or the error `stalled` makes once the peer has been silent for `timeout` (the exchange is
    /// cancelled then).
    func guarding<T: Sendable>(
        _ timeout: Duration, _ exchange: @escaping @Sendable () async throws -> T, stalled: () -> any Error
    ) async throws -> T {
        let outcome = try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await exchange() }
            group.addTask { [self] in
                while !silent(for: timeout) { try await clock.sleep(for: .milliseconds(100)) }
                return nil
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        guard let outcome else { throw stalled() }
        return outcome
    }

    private func silent(for timeout: Duration) -> Bool {
        state.withLock { !$0.paused && clock.elapsed - $0.lastProgress >= timeout }
    }
}
