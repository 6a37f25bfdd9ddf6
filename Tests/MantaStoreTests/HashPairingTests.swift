import Foundation
import MantaStore
import Testing

/// Threads hashing through one `HashPairing` get each message's own digest, however their blocks were paired.
@Suite struct HashPairingTests {
    static func message(_ seed: Int, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: ($0 &* (2 * seed + 1)) ^ ($0 >> 6) ^ seed) }
    }

    @Test(arguments: [nil, 2])
    func messagesHashedAtOnceFromManyThreadsGiveTheirOwnDigests(patienceMilliseconds: Int?) async throws {
        let pairing = HashPairing(patience: patienceMilliseconds.map { .milliseconds($0) })
        // Lengths of different block counts (pairs cover the shorter one), partial blocks, and an empty message.
        let lengths = [0, 1, 63, 64, 65, 4096, 100_000, 256 << 10, (256 << 10) + 17, 300_000]
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for thread in 0..<8 {
                group.addTask {
                    await withCheckedContinuation { continuation in
                        // Threads of their own: a thread that offers its blocks blocks until they are hashed.
                        Thread {
                            var mismatches = 0
                            for (index, length) in lengths.enumerated() {
                                let message = Self.message(thread * 100 + index, bytes: length)
                                let paired = message.withUnsafeBytes { SHA256Hasher.hash($0, pairing: pairing) }
                                if paired != SHA256Hasher.hash(message) { mismatches += 1 }
                            }
                            continuation.resume(returning: mismatches)
                        }.start()
                    }
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test(.timeLimit(.minutes(1)), arguments: [nil, 2])
    func aThreadAloneHashesAlone(patienceMilliseconds: Int?) {
        let pairing = HashPairing(patience: patienceMilliseconds.map { .milliseconds($0) })
        let message = Self.message(7, bytes: 256 << 10)
        #expect(message.withUnsafeBytes { SHA256Hasher.hash($0, pairing: pairing) } == SHA256Hasher.hash(message))
    }
}
