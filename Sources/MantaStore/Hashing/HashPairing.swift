import CSHA256
import Dispatch
import Synchronization

/// A meeting point where threads that each have whole blocks of a different message to hash at about the same
/// moment hash them together, two messages on one core (`csha256_blocks_pair`: on AMD about 60% of the time of one
/// after the other). A pull hashes every chunk it receives and, apart, each file it completes: from several
/// streams at once, so two such messages are usually at hand.
///
/// A thread with no partner waits up to `patience` for one, then hashes alone; waiting blocks its thread, so only
/// code on threads that may block (a thread pool's, never the cooperative pool's) hashes through a pairing.
public final class HashPairing: Sendable {
    /// The pairing a pull's threads share.
    public static let pulls = HashPairing(patience: .milliseconds(2))

    private let patience: DispatchTimeInterval
    private let waiting = Mutex<Waiter?>(nil)

    public init(patience: DispatchTimeInterval) {
        self.patience = patience
    }

    /// A thread waiting for a partner, with its message's next blocks. Unchecked `Sendable`: `state`, `data` and
    /// `blocks` are read by the partner that took the waiter from the meeting point, and `hashed` and `status`
    /// written by it before it signals `done`; the waiter reads them only after `done`.
    private final class Waiter: @unchecked Sendable {
        let state: UnsafeMutablePointer<csha256_state>
        let data: UnsafePointer<UInt8>
        let blocks: Int
        var hashed = 0
        var status: Int32 = 0
        let done = DispatchSemaphore(value: 0)

        init(state: UnsafeMutablePointer<csha256_state>, data: UnsafePointer<UInt8>, blocks: Int) {
            (self.state, self.data, self.blocks) = (state, data, blocks)
        }
    }

    /// Hashes `blocks` whole blocks from `data` into `state`, beside another thread's blocks where one comes in time.
    /// 0, or `CSHA256_FAULT` (as `csha256_blocks`).
    func hashBlocks(_ state: UnsafeMutablePointer<csha256_state>, _ data: UnsafePointer<UInt8>, _ blocks: Int) -> Int32 {
        var (data, blocks) = (data, blocks)
        while blocks > 0 {
            if let partner = waiting.withLock({ $0.take() }) {
                let paired = min(blocks, partner.blocks)
                partner.status = csha256_blocks_pair(partner.state, partner.data, state, data, paired)
                partner.hashed = paired
                partner.done.signal()
                guard partner.status == 0 else { return partner.status }
                data += 64 * paired
                blocks -= paired
                continue
            }
            let waiter = Waiter(state: state, data: data, blocks: blocks)
            let placed = waiting.withLock { waiting in
                guard waiting == nil else { return false }
                waiting = waiter
                return true
            }
            // Another thread took the place first: pair with it.
            guard placed else { continue }
            if waiter.done.wait(timeout: .now() + patience) == .timedOut {
                let withdrawn = waiting.withLock { waiting in
                    guard waiting === waiter else { return false }
                    waiting = nil
                    return true
                }
                guard !withdrawn else { return csha256_blocks(state, data, blocks) }
                // Taken just as the wait ended: the partner is hashing these blocks now.
                waiter.done.wait()
            }
            guard waiter.status == 0 else { return waiter.status }
            data += 64 * waiter.hashed
            blocks -= waiter.hashed
        }
        return 0
    }
}
