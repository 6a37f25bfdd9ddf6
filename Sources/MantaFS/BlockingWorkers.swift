import Foundation
import Synchronization

/// A fixed set of threads for blocking disk work (reading and hashing chunks), outside both Swift's
/// cooperative pool and libfuse's workers. Urgent work runs before background work.
final class BlockingWorkers: Sendable {
    typealias Work = @Sendable () -> Void

    private struct Queues {
        var urgent: [Work] = []
        var background: [Work] = []
        var urgentHead = 0
        var backgroundHead = 0
        var stopped = false

        mutating func next() -> Work? {
            if urgentHead < urgent.count {
                defer {
                    urgentHead += 1
                    compact()
                }
                return urgent[urgentHead]
            }
            if backgroundHead < background.count {
                defer {
                    backgroundHead += 1
                    compact()
                }
                return background[backgroundHead]
            }
            return nil
        }

        private mutating func compact() {
            if urgentHead == urgent.count {
                urgent.removeAll(keepingCapacity: true)
                urgentHead = 0
            }
            if backgroundHead == background.count {
                background.removeAll(keepingCapacity: true)
                backgroundHead = 0
            }
        }
    }

    private let queues = Mutex(Queues())
    private let available = DispatchSemaphore(value: 0)
    private let finished = DispatchGroup()
    private let count: Int

    init(count: Int, name: String) {
        self.count = max(1, count)
        for index in 0..<self.count {
            finished.enter()
            let thread = Thread { [self] in
                defer { finished.leave() }
                while true {
                    available.wait()
                    guard let work = queues.withLock({ $0.stopped ? nil : $0.next() }) else { return }
                    work()
                }
            }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    func submit(urgent: Bool, _ work: @escaping Work) {
        let accepted = queues.withLock { queues in
            guard !queues.stopped else { return false }
            if urgent { queues.urgent.append(work) } else { queues.background.append(work) }
            return true
        }
        if accepted { available.signal() }
    }

    /// Drops queued work and waits for the running work to finish.
    func stop() {
        queues.withLock { $0.stopped = true }
        for _ in 0..<count { available.signal() }
        finished.wait()
    }
}
