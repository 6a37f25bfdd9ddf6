import Foundation
import Synchronization
import Testing

/// Runs each test on two threads of its own instead of the shared cooperative pool, for tests that block their
/// thread: on FUSE calls, on a child process, on a poll. The pool has one thread per core; two such tests side by
/// side would stop every other test in the process (a server's handler, a stall watch) until they were done. Two
/// threads, as a test has when the pool is all its own, so that a blocking wait beside an async step still leaves
/// that step a thread.
public struct ThreadsOfItsOwnTrait: TestTrait, SuiteTrait, TestScoping {
    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        guard testCase != nil else { return try await function() }
        let executor = ThreadPoolExecutor(threads: 2)
        defer { executor.shutDown() }
        try await withTaskExecutorPreference(executor) { try await function() }
    }
}

extension Trait where Self == ThreadsOfItsOwnTrait {
    /// Each test runs on two threads of its own, off the shared pool (`ThreadsOfItsOwnTrait`).
    public static var threadsOfItsOwn: Self { Self() }
}

/// A task executor over a few threads of its own, ended by `shutDown` once the work that prefers it is done.
final class ThreadPoolExecutor: TaskExecutor {
    private struct Queue {
        var jobs: [UnownedJob] = []
        var shutDown = false
    }

    private let queue = Mutex(Queue())
    private let ready = DispatchSemaphore(value: 0)
    private let threads: Int

    init(threads: Int) {
        self.threads = threads
        for _ in 0..<threads { Thread { [self] in work() }.start() }
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.withLock { $0.jobs.append(job) }
        ready.signal()
    }

    /// Each thread ends once the queue is empty.
    func shutDown() {
        queue.withLock { $0.shutDown = true }
        for _ in 0..<threads { ready.signal() }
    }

    private func work() {
        while true {
            ready.wait()
            let next = queue.withLock { queue -> UnownedJob?? in
                if !queue.jobs.isEmpty { return .some(queue.jobs.removeFirst()) }
                return queue.shutDown ? .none : .some(nil)
            }
            guard let next else { return }
            next?.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
