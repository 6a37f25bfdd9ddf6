/// Keeps reclaims and pulls of one store apart: a reclaim frees chunks that no manifest names, and a pull
/// in progress has written chunks (or found chunks present it counts on) that its manifest names only at
/// the end. Pulls run together; a reclaim waits for them, and new pulls wait for a waiting reclaim.
actor ReclaimGate {
    private var pulls = 0
    private var reclaiming = false
    private var reclaimsWaiting = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Runs `body` as a pull, once no reclaim runs or waits.
    func pull<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        while reclaiming || reclaimsWaiting > 0 {
            await parked()
            try Task.checkCancellation()
        }
        pulls += 1
        defer {
            pulls -= 1
            wakeAll()
        }
        return try await body()
    }

    /// Runs `body` alone: no pull and no other reclaim runs meanwhile.
    func reclaim<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        reclaimsWaiting += 1
        while reclaiming || pulls > 0 {
            await parked()
        }
        reclaimsWaiting -= 1
        reclaiming = true
        defer {
            reclaiming = false
            wakeAll()
        }
        return try await body()
    }

    private func parked() async {
        await withCheckedContinuation { waiters.append($0) }
    }

    private func wakeAll() {
        let woken = waiters
        waiters = []
        for waiter in woken { waiter.resume() }
    }
}
