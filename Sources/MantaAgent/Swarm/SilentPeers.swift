import MantaPeer
import MantaTransfer
import Synchronization

/// Peers that did not answer a round of swarm polls during one pull. Every round waits for all its answers, and a
/// peer that is gone (killed, its node down) costs each round that asks it the request's stall timeout: asked in
/// every round, it slowed every round, and with them the chunks learned from the node's upstream, to one per 3 s
/// (real agents, eight at 2 MB/s: a node killed made the others about 18 % slower, where the line it left got shorter).
/// So a silent peer leaves the rounds, and a probe of its own asks it again `probeInterval` after each try until it
/// answers; then the rounds ask it again.
final class SilentPeers: Sendable {
    private let state = Mutex<(silent: Set<PeerAddress>, probes: [PeerAddress: Task<Void, Never>])>(([], [:]))
    private let probeInterval: Duration
    private let clock: AnyClock
    private let answers: @Sendable (PeerAddress) async -> Bool

    /// - Parameter answers: whether the peer answers a poll now.
    init(probeInterval: Duration, clock: AnyClock, answers: @escaping @Sendable (PeerAddress) async -> Bool) {
        self.probeInterval = probeInterval
        self.clock = clock
        self.answers = answers
    }

    deinit {
        for probe in state.withLock({ $0.probes.values }) { probe.cancel() }
    }

    /// The peers a round asks: all but the silent ones.
    func toAsk(_ peers: [PeerAddress]) -> [PeerAddress] {
        state.withLock { state in peers.filter { !state.silent.contains($0) } }
    }

    /// The peers of `asked` that gave no answer go silent.
    func record(asked: [PeerAddress], answered: Set<PeerAddress>) {
        for peer in asked where !answered.contains(peer) { silence(peer) }
    }

    private func silence(_ peer: PeerAddress) {
        state.withLock { state in
            guard state.silent.insert(peer).inserted else { return }
            // Weakly: the probes end when the pull's rounds do (`deinit`).
            state.probes[peer] = Task { [weak self, probeInterval, clock, answers] in
                while !Task.isCancelled {
                    try? await clock.sleep(for: probeInterval)
                    if !Task.isCancelled, await answers(peer) { break }
                }
                self?.state.withLock { state in
                    state.silent.remove(peer)
                    state.probes[peer] = nil
                }
            }
        }
    }
}
