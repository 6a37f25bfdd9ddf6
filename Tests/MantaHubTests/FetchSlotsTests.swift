import MantaStore
import MantaTransfer
import Synchronization
import Testing

@testable import MantaHub

@Suite struct FetchSlotsTests {
    @Test func waitingReadsGetTheNextSlotBeforeEarlierPreheats() async throws {
        let slots = FetchSlots(limit: 1)
        let order = Shared<[String]>([])
        await slots.acquire(.preheat)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, priority) in [("preheat", FetchPriority.preheat), ("read", .read)] {
                let queued = slots.waiting
                group.addTask {
                    try await slots.withSlot(priority) { order.value.withLock { $0.append(name) } }
                }
                // Bounded wait until this caller is queued, so the preheat is first in line.
                for _ in 0..<1000 where slots.waiting == queued { try await Task.sleep(for: .milliseconds(1)) }
                #expect(slots.waiting == queued + 1)
            }
            slots.release()
            try await group.waitForAll()
        }
        #expect(order.value.withLock { $0 } == ["read", "preheat"])
    }

    @Test func noMoreThanTheLimitRunAtOnce() async throws {
        let slots = FetchSlots(limit: 3)
        let running = Shared((now: 0, peak: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    try await slots.withSlot(.preheat) {
                        running.value.withLock {
                            $0.now += 1
                            $0.peak = max($0.peak, $0.now)
                        }
                        try await Task.sleep(for: .milliseconds(5))
                        running.value.withLock { $0.now -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(running.value.withLock { $0.peak } == 3)
    }
}

/// State that concurrent test tasks share.
final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
}
