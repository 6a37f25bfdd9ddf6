import Dispatch
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Runs blocking work (disk I/O, hashing) on dedicated threads, never on Swift's cooperative pool.
enum WorkerThreads {
    /// Runs `body` on `count` threads of its own, or on as many as the system would start (`body` takes its work
    /// from a shared queue, so fewer only take longer), and waits for all of them. Throws
    /// `StoreError.threadUnavailable` when it could start none. Rethrows the first error; `body` should poll the
    /// shared cancellation it is handed to stop early.
    static func run(count: Int, _ body: @escaping @Sendable (_ cancelled: borrowing Atomic<Bool>) throws -> Void) throws {
        let failure = Mutex<(any Error)?>(nil)
        let cancelled = Box()
        let group = DispatchGroup()
        for started in 0..<count {
            group.enter()
            do {
                try DetachedThread.start {
                    defer { group.leave() }
                    do {
                        try body(cancelled.flag)
                    } catch {
                        failure.withLock { if $0 == nil { $0 = error } }
                        cancelled.flag.store(true, ordering: .relaxed)
                    }
                }
            } catch {
                group.leave()
                if started == 0 { throw error }
                break
            }
        }
        group.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }

    final class Box: Sendable {
        let flag = Atomic<Bool>(false)
    }
}
