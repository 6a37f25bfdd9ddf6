import MantaStore
import MantaTransfer
import Synchronization

/// Lets at most `limit` fetches run at once; when a slot frees up, waiting reads go before waiting preheats.
final class FetchSlots: Sendable {
    private struct State {
        var free: Int
        var reads: [CheckedContinuation<Void, Never>] = []
        var preheats: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(limit: Int) {
        state = Mutex(State(free: max(1, limit)))
    }

    func acquire(_ priority: FetchPriority) async {
        await withCheckedContinuation { continuation in
            let granted = state.withLock { state in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                switch priority {
                case .read: state.reads.append(continuation)
                case .preheat: state.preheats.append(continuation)
                }
                return false
            }
            if granted { continuation.resume() }
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if !state.reads.isEmpty { return state.reads.removeFirst() }
            if !state.preheats.isEmpty { return state.preheats.removeFirst() }
            state.free += 1
            return nil
        }
        next?.resume()
    }

    /// Callers waiting for a slot.
    var waiting: Int { state.withLock { $0.reads.count + $0.preheats.count } }

    /// Runs `body` in a slot.
    func withSlot<Result>(_ priority: FetchPriority, _ body: () async throws -> Result) async throws -> Result {
        await acquire(priority)
        defer { release() }
        return try await body()
    }
}
