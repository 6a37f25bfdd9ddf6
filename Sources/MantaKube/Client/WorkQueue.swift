import DequeModule
import MantaTransfer

/// A queue of keys to reconcile, as in client-go: a key is queued at most once, is never handed to two
/// workers at the same time, and failed keys come back after an exponentially growing delay.
public actor WorkQueue {
    private var queue: Deque<String> = []
    private var queued: Set<String> = []
    private var processing: Set<String> = []
    /// Keys added while being processed; they are queued again when done.
    private var dirtyWhileProcessing: Set<String> = []
    private var failures: [String: Int] = [:]
    /// Pending delayed adds, by deadline on the queue's clock.
    private var timers: [String: (deadline: Duration, task: Task<Void, Never>)] = [:]
    private var waiters: [CheckedContinuation<String?, Never>] = []
    private var shuttingDown = false
    private let baseDelay: Duration
    private let maxDelay: Duration
    private let clock: Stopwatch

    public init(baseDelay: Duration = .milliseconds(5), maxDelay: Duration = .seconds(300), clock: some Clock<Duration> = ContinuousClock()) {
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.clock = Stopwatch(clock)
    }

    public func add(_ key: String) {
        guard !shuttingDown else { return }
        if processing.contains(key) {
            dirtyWhileProcessing.insert(key)
            return
        }
        guard queued.insert(key).inserted else { return }
        if waiters.isEmpty {
            queue.append(key)
        } else {
            queued.remove(key)
            processing.insert(key)
            waiters.removeFirst().resume(returning: key)
        }
    }

    /// Adds the key once `delay` has passed; an earlier pending delay for the same key wins.
    public func add(_ key: String, after delay: Duration) {
        guard !shuttingDown else { return }
        guard delay > .zero else { return add(key) }
        let deadline = clock.elapsed + delay
        if let timer = timers[key], timer.deadline <= deadline { return }
        timers[key]?.task.cancel()
        let task = Task { [weak self, clock] in
            guard (try? await clock.sleep(until: deadline)) != nil else { return }
            await self?.fire(key, deadline: deadline)
        }
        timers[key] = (deadline, task)
    }

    private func fire(_ key: String, deadline: Duration) {
        guard timers[key]?.deadline == deadline else { return }
        timers[key] = nil
        add(key)
    }

    /// Adds the key after a delay that doubles with each failure since the last ``forget(_:)``.
    public func addRateLimited(_ key: String) {
        let count = failures[key, default: 0]
        failures[key] = count + 1
        let delay = min(baseDelay * (1 << min(count, 30)), maxDelay)
        add(key, after: delay)
    }

    /// Clears the failure history of a key after it was processed successfully.
    public func forget(_ key: String) {
        failures[key] = nil
    }

    public func failureCount(_ key: String) -> Int {
        failures[key, default: 0]
    }

    /// The next key to process, or nil once the queue is shut down. Call ``done(_:)`` when finished with it.
    public func next() async -> String? {
        if let key = queue.popFirst() {
            queued.remove(key)
            processing.insert(key)
            return key
        }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    public func done(_ key: String) {
        processing.remove(key)
        if dirtyWhileProcessing.remove(key) != nil { add(key) }
    }

    public var count: Int { queue.count }

    public func shutdown() {
        shuttingDown = true
        for timer in timers.values { timer.task.cancel() }
        timers = [:]
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters = []
    }
}
