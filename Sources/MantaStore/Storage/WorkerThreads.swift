#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Dispatch
import Synchronization

/// Runs blocking work (disk I/O, hashing) on dedicated threads, never on Swift's cooperative pool.
enum WorkerThreads {
    /// Runs `body` on `count` threads of its own and waits for all of them.
    /// Rethrows the first error; `body` should poll the shared cancellation it is handed to stop early.
    static func run(count: Int, _ body: @escaping @Sendable (_ cancelled: borrowing Atomic<Bool>) throws -> Void) throws {
        let failure = Mutex<(any Error)?>(nil)
        let cancelled = Box()
        let group = DispatchGroup()
        for _ in 0..<count {
            group.enter()
            DetachedThread.start {
                defer { group.leave() }
                do {
                    try body(cancelled.flag)
                } catch {
                    failure.withLock { if $0 == nil { $0 = error } }
                    cancelled.flag.store(true, ordering: .relaxed)
                }
            }
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    final class Box: Sendable {
        let flag = Atomic<Bool>(false)
    }
}
