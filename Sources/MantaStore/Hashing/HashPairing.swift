import CSHA256
import Dispatch
import Synchronization

/// A meeting point where threads that each have whole blocks of a different message to hash at about the same time
/// hash them together, two messages on one core (`csha256_blocks_pair`: on AMD about 60% of the time of one after
/// the other). A pull hashes every chunk it receives and, apart, each file it completes, from several streams at
/// once, so two such messages are often at hand.
///
/// A thread that finds no one hashing hashes alone, a step at a time, and between steps takes the blocks another
/// thread offered and hashes the two messages together. A thread that finds someone hashing alone offers its
/// blocks and blocks until they are hashed (the other thread does its work meanwhile) or handed back. So no
/// thread waits idle for a partner that may not come; but an offering thread does block, so only code on threads
/// that may block (a thread pool's, never the cooperative pool's) hashes through a pairing.
///
/// With `patience`, a thread that finds no one hashing first waits that long for an offer: where the threads'
/// hashing rarely overlaps (a chunk's hash, then its disk write), that is what makes pairs. It holds the thread
/// idle, so only threads of a pool of their own should hash through a patient pairing.
public final class HashPairing: Sendable {
    /// The pairing of threads in shared pools (the NIO pool, which also answers peers): no patience.
    public static let sharedPools = HashPairing()
    /// The pairing of pulls (from the hub, from peers), which hash on a thread pool of their own.
    public static let ownPools = HashPairing(patience: .milliseconds(2))

    /// Blocks hashed alone between looks for an offer: 64 KiB, tens of microseconds.
    static let step = 1024

    private struct Meeting {
        /// Threads hashing alone, which take an offer at their next step.
        var alone = 0
        var offered: Offer?
        /// Signalled by the next offer: a patient thread waits on it before it starts alone.
        var offerAwaited: DispatchSemaphore?
    }

    private let meeting = Mutex(Meeting())
    private let patience: DispatchTimeInterval?

    public init(patience: DispatchTimeInterval? = nil) {
        self.patience = patience
    }

    /// Blocks another thread hashes for the thread that offered them. Unchecked `Sendable`: `state`, `data` and
    /// `blocks` are read only by the thread that took the offer, which writes `hashed` and `status` before it
    /// signals `done`; the offering thread reads them only after `done`.
    private final class Offer: @unchecked Sendable {
        let state: UnsafeMutablePointer<csha256_state>
        let data: UnsafePointer<UInt8>
        let blocks: Int
        /// Blocks hashed by the taker: fewer than `blocks` (none, when handed back) leaves the rest to the offerer.
        var hashed = 0
        var status: Int32 = 0
        let done = DispatchSemaphore(value: 0)

        init(state: UnsafeMutablePointer<csha256_state>, data: UnsafePointer<UInt8>, blocks: Int) {
            (self.state, self.data, self.blocks) = (state, data, blocks)
        }
    }

    /// Hashes `blocks` whole blocks from `data` into `state`, beside another thread's blocks where there are any.
    /// 0, or `CSHA256_FAULT` (as `csha256_blocks`).
    func hashBlocks(_ state: UnsafeMutablePointer<csha256_state>, _ data: UnsafePointer<UInt8>, _ blocks: Int) -> Int32 {
        var (data, blocks) = (data, blocks)
        while blocks > 0 {
            let offer = Offer(state: state, data: data, blocks: blocks)
            let offered = meeting.withLock { meeting in
                guard meeting.alone > 0, meeting.offered == nil else {
                    meeting.alone += 1
                    return false
                }
                meeting.offered = offer
                meeting.offerAwaited?.signal()
                return true
            }
            guard offered else {
                awaitOffer()
                return hashTakingOffers(state, data, blocks)
            }
            offer.done.wait()
            guard offer.status == 0 else { return offer.status }
            data += 64 * offer.hashed
            blocks -= offer.hashed
        }
        return 0
    }

    /// With patience, and no offer yet, waits for one (or for `patience` to pass).
    private func awaitOffer() {
        guard let patience else { return }
        let arrival = DispatchSemaphore(value: 0)
        let waits = meeting.withLock { meeting in
            guard meeting.offered == nil, meeting.offerAwaited == nil else { return false }
            meeting.offerAwaited = arrival
            return true
        }
        guard waits else { return }
        _ = arrival.wait(timeout: .now() + patience)
        meeting.withLock { meeting in
            if meeting.offerAwaited === arrival { meeting.offerAwaited = nil }
        }
    }

    /// Hashes alone, counted in `alone`, and takes offers between steps.
    private func hashTakingOffers(_ state: UnsafeMutablePointer<csha256_state>, _ data: UnsafePointer<UInt8>, _ blocks: Int) -> Int32 {
        var (data, blocks) = (data, blocks)
        while true {
            let partner = meeting.withLock { meeting -> Offer? in
                guard let offer = meeting.offered else { return nil }
                meeting.offered = nil
                meeting.alone -= 1
                return offer
            }
            let status: Int32
            if let partner {
                let paired = min(blocks, partner.blocks)
                status = csha256_blocks_pair(partner.state, partner.data, state, data, paired)
                (partner.hashed, partner.status) = (paired, status)
                partner.done.signal()
                data += 64 * paired
                blocks -= paired
                guard blocks == 0 || status != 0 else {
                    meeting.withLock { $0.alone += 1 }
                    continue
                }
            } else {
                let count = min(blocks, Self.step)
                status = csha256_blocks(state, data, count)
                data += 64 * count
                blocks -= count
                guard blocks == 0 || status != 0 else { continue }
                meeting.withLock { $0.alone -= 1 }
            }
            // Done: an offer no one else hashing alone will take goes back to its thread.
            let handedBack = meeting.withLock { meeting -> Offer? in
                guard meeting.alone == 0, let offer = meeting.offered else { return nil }
                meeting.offered = nil
                return offer
            }
            handedBack?.done.signal()
            return status
        }
    }
}
